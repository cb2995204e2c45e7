//! The `state` setting (runbook.toml, or `RUNBOOK_STATE`): a directory, or
//! the team's database as a `postgres://` URL. Told apart strictly: a value
//! that looks like a URL of any other scheme (`Postgres:/…`, `postgres:/…`,
//! `postgress://…`) is refused, never taken for a directory name. Taken for
//! one, a typo would bypass the team's lock without a word and write the
//! URL, its password included, into the name of a directory.
//!
//! And [`redact`]: every message that shows a state URL shows it through it.

/// What a `state` value names.
#[derive(Debug, PartialEq, Eq)]
pub enum State {
    /// A directory (relative to the project root).
    Dir(String),
    /// The team's database: the URL, its scheme in lower case.
    Database(String),
}

/// Tell a `state` value apart; `Err` says why it is neither (its text shown
/// through [`redact`]).
pub fn classify(value: &str) -> Result<State, String> {
    // ` postgres://…` is no directory either: a blank before it (or after
    // it: the server would be asked for database `db `) is a typo.
    if value.trim() != value {
        return Err(format!(
            "\"{}\" has blanks at its start or end: remove them (a directory name with them is not supported)",
            redact(value.trim())
        ));
    }
    if let Some(scheme) = scheme(value) {
        let lower = scheme.to_ascii_lowercase();
        let rest = &value[scheme.len()..];
        if (lower == "postgres" || lower == "postgresql") && rest.starts_with("://") {
            return Ok(State::Database(format!("{lower}{rest}")));
        }
        let near = lower.starts_with("postgres") || lower.starts_with("pg");
        return Err(format!(
            "\"{}\" is a URL{}, but the shared store takes only postgres:// URLs",
            redact(value),
            if near { " misspelt" } else { "" }
        ));
    }
    if value.to_ascii_lowercase().contains("password=") {
        return Err(format!(
            "\"{}\" looks like a connection string, not a directory: the shared store takes postgres:// URLs",
            redact(value)
        ));
    }
    Ok(State::Dir(value.to_string()))
}

/// The scheme of a URL-looking value: `name:` followed by `/`, the name two
/// characters or more (a drive letter is not a scheme).
fn scheme(value: &str) -> Option<&str> {
    let (name, rest) = value.split_once(':')?;
    let first = name.chars().next()?;
    let ok = name.len() >= 2
        && first.is_ascii_alphabetic()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && rest.starts_with('/');
    ok.then_some(name)
}

/// The URL with its password masked: in the user part (everything between
/// the scheme and the last `@`, a password with `@`, `/` or `?` in it
/// included) and in a `password=` parameter. Masks too much rather than
/// too little when the URL is malformed.
pub fn redact(url: &str) -> String {
    let start = match scheme(url) {
        Some(s) => s.len() + 1 + url[s.len() + 1..].chars().take_while(|c| *c == '/').count(),
        None => 0,
    };
    let (head, rest) = url.split_at(start);
    // Parameters first: a password given as one may hold an `@`.
    let rest = mask_password_params(rest);
    let (user, tail) = match rest.rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let user = match userinfo.split_once(':') {
                Some((name, _)) => format!("{name}:***"),
                None => userinfo.to_string(),
            };
            (format!("{user}@"), &rest[at + 1..])
        }
        None => (String::new(), &rest[..]),
    };
    format!("{head}{user}{tail}")
}

/// `password=…` values (any case), up to the next `&` or blank.
fn mask_password_params(s: &str) -> String {
    const KEY: &str = "password=";
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(found) = lower[i..].find(KEY) {
        let value = i + found + KEY.len();
        out.push_str(&s[i..value]);
        out.push_str("***");
        i = value + s[value..].find(['&', ' ', '\t']).unwrap_or(s.len() - value);
    }
    out.push_str(&s[i..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_database_url_is_told_from_a_directory_and_a_misspelt_url_refused() {
        assert_eq!(classify(".runbook"), Ok(State::Dir(".runbook".into())));
        assert_eq!(classify("/var/lib/runbook"), Ok(State::Dir("/var/lib/runbook".into())));
        assert_eq!(classify("C:/state"), Ok(State::Dir("C:/state".into())));
        assert_eq!(classify("./a:/b"), Ok(State::Dir("./a:/b".into())));
        assert_eq!(classify("postgres://u@h/db"), Ok(State::Database("postgres://u@h/db".into())));
        assert_eq!(classify("PostgreSQL://u@h/db"), Ok(State::Database("postgresql://u@h/db".into())));
        for typo in ["postgres:/u:pw@h/db", "Postgres:/u:pw@h/db", "postgress://u:pw@h/db", "pg://u:pw@h/db"] {
            let why = classify(typo).unwrap_err();
            assert!(why.contains("misspelt") && !why.contains("pw@"), "{typo}: {why}");
        }
        let why = classify("https://u:pw@h/db").unwrap_err();
        assert!(!why.contains("misspelt") && !why.contains("pw"), "{why}");
        let why = classify("host=db password=hunter2").unwrap_err();
        assert!(!why.contains("hunter2"), "{why}");
        for blank in [" postgres://u:pw@h/db", "postgres://u:pw@h/db ", "\tpostgres://u:pw@h/db", " .runbook"] {
            let why = classify(blank).unwrap_err();
            assert!(why.contains("has blanks at its start or end") && !why.contains("pw@"), "{blank:?}: {why}");
        }
    }

    #[test]
    fn a_url_is_shown_without_its_password() {
        assert_eq!(redact("postgres://u:hunter2@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact("postgres://u:p@ss:w0rd@h:5999/db"), "postgres://u:***@h:5999/db");
        assert_eq!(redact("postgres://h/db?password=s3&port=abc"), "postgres://h/db?password=***&port=abc");
        assert_eq!(redact("postgres://u:a@h/db?PassWord=b"), "postgres://u:***@h/db?PassWord=***");
        assert_eq!(redact("Postgres:/u:pw@h/db"), "Postgres:/u:***@h/db");
    }

    proptest! {
        /// Whatever the password holds, no message shows it.
        #[test]
        fn no_password_survives_redaction(pw in "[a-zA-Z0-9@:/?&=#%!]{6,20}", user in "[a-z]{1,8}") {
            for url in [
                format!("postgres://{user}:{pw}@h:5432/db"),
                format!("postgres://{user}:{pw}@h:5432/db?sslmode=require"),
                format!("Postgres:/{user}:{pw}@h:5432/db"),
                format!("postgres://{user}@h:5432/db?password={pw}"),
            ] {
                let shown = redact(&url);
                // What stays of the password is at most what the URL itself
                // would make of it: a part after a `&` (a parameter of its own).
                let secret = pw.split('&').next().unwrap_or_default();
                // (Unless the rest of the URL holds the same text.)
                let rest = url.replacen(pw.as_str(), "", 1).replacen("password=", "", 1);
                prop_assert!(secret.len() < 4 || rest.contains(secret) || !shown.contains(secret), "{url} -> {shown}");
            }
        }
    }
}
