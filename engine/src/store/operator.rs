//! Who plays: the name a session, an approval, a lock and a take-over are
//! recorded under. Engineers who share a bastion account, or play under
//! `sudo`, are told apart by `RUNBOOK_OPERATOR` (set in a shell profile or by
//! SSO tooling) or by `sudo`'s `SUDO_USER`, before the account's own name
//! (docs/team-mode.md, "Who plays").

/// The operator's name (without the host), from the environment `var` and
/// the account name `account`: `RUNBOOK_OPERATOR` as given; else, under
/// `sudo` from another account, `alice (sudo root)`; else the account.
/// Control characters are shown as `?`: a name is printed on one line.
pub fn name(var: impl Fn(&str) -> Option<String>, account: &str) -> String {
    let set = |k: &str| var(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let name = match (set("RUNBOOK_OPERATOR"), set("SUDO_USER")) {
        (Some(n), _) => n,
        (None, Some(s)) if s != account => format!("{s} (sudo {account})"),
        _ => account.to_string(),
    };
    name.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// The name of the account this process runs as (`getpwuid`, else `$USER`,
/// else `uid1000`: a container's uid with no passwd entry still tells two
/// engineers apart, where `unknown` named nobody).
pub fn account() -> String {
    let uid = nix::unistd::getuid();
    account_of(
        nix::unistd::User::from_uid(uid).ok().flatten().map(|u| u.name),
        std::env::var("USER").ok(),
        uid.as_raw(),
    )
}

fn account_of(passwd: Option<String>, user: Option<String>, uid: u32) -> String {
    passwd.or(user.filter(|u| !u.trim().is_empty())).unwrap_or_else(|| format!("uid{uid}"))
}

#[cfg(test)]
mod tests {
    use super::{account_of, name};

    #[test]
    fn an_account_without_a_name_is_its_uid() {
        assert_eq!(account_of(Some("alice".into()), Some("bob".into()), 1000), "alice");
        assert_eq!(account_of(None, Some("bob".into()), 1000), "bob");
        assert_eq!(account_of(None, Some(" ".into()), 1000), "uid1000");
        assert_eq!(account_of(None, None, 1000), "uid1000");
    }

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn runbook_operator_wins_then_the_sudo_user_then_the_account() {
        assert_eq!(name(env(&[]), "root"), "root");
        assert_eq!(name(env(&[("SUDO_USER", "alice")]), "root"), "alice (sudo root)");
        assert_eq!(name(env(&[("SUDO_USER", "alice")]), "deploy"), "alice (sudo deploy)");
        assert_eq!(name(env(&[("RUNBOOK_OPERATOR", "bob"), ("SUDO_USER", "alice")]), "root"), "bob");
        assert_eq!(name(env(&[("RUNBOOK_OPERATOR", " carol@example.com ")]), "ops"), "carol@example.com");
    }

    #[test]
    fn an_empty_or_same_name_adds_nothing_and_control_characters_are_shown() {
        assert_eq!(name(env(&[("RUNBOOK_OPERATOR", " "), ("SUDO_USER", "")]), "ops"), "ops");
        assert_eq!(name(env(&[("SUDO_USER", "root")]), "root"), "root");
        assert_eq!(name(env(&[("RUNBOOK_OPERATOR", "eve\n\x1b[31m")]), "ops"), "eve??[31m");
    }
}
