//! The forms that change the system of tools that otherwise read:
//! `journalctl --vacuum-size` and its kin, `dmesg -c`, `date -s`, `hostname
//! NAME`, `ss -K`, `sed -i`, `sysctl -w`, `git branch -D`, `git remote add`,
//! `etcdctl member add`, `promtool tsdb create-blocks-from`.

use super::Call;
use super::opts::Spec;

/// journalctl's options that change the journal (or its files). getopt_long
/// takes a unique prefix of one (`--vac=1G`), so a prefix is one too.
#[rustfmt::skip]
const JOURNALCTL: &[&str] = &[
    "vacuum-size", "vacuum-time", "vacuum-files", "rotate", "flush", "sync", "relinquish-var", "smart-relinquish-var",
    "setup-keys", "update-catalog",
];

/// `journalctl --vacuum-size=500M`, `--rotate`, `--flush`…
pub fn journalctl(c: &Call) -> bool {
    c.is("journalctl") && c.opts(&Spec::default()).long_prefix_of(JOURNALCTL)
}

/// Does a tool that otherwise reads change the system with these options?
pub fn writes(c: &Call) -> bool {
    match c.program.as_str() {
        // Clear the ring buffer, switch the console's logging.
        "dmesg" => {
            let o = c.opts(&Spec {
                short: "fFlns",
                long: &["--facility", "--file", "--level", "--console-level", "--buffer-size", "--time-format"],
                ..Spec::default()
            });
            [('c', "read-clear"), ('C', "clear"), ('D', "console-off"), ('E', "console-on"), ('n', "console-level")]
                .into_iter()
                .any(|(s, l)| o.has(s, l))
        }
        // `date -s …`, or `date MMDDhhmm`: sets the clock (`date +%s` formats).
        "date" => {
            let o = c.opts(&Spec {
                short: "dfrs",
                attached: "I",
                long: &["--date", "--file", "--reference", "--set"],
                ..Spec::default()
            });
            o.has('s', "set") || o.operands().any(|w| !w.starts_with('+'))
        }
        "hostname" => {
            let o = c.opts(&Spec { short: "F", long: &["--file"], ..Spec::default() });
            o.has('F', "file") || o.operands().next().is_some()
        }
        "ss" => c.opts(&Spec { short: "fAFN", ..Spec::default() }).has('K', "kill"),
        "sed" => c.opts(&Spec { short: "efl", attached: "i", ..Spec::default() }).has('i', "in-place"),
        "perl" => c.flag("i", &["--in-place"]),
        "sysctl" => {
            let o = c.opts(&Spec::default());
            o.has('w', "write") || o.has('p', "load") || o.has('\0', "system") || o.operands().any(|w| w.contains('='))
        }
        "git" => git(c),
        "etcdctl" => match c.sub(0) {
            Some("member") => matches!(c.sub(1), Some("add" | "remove" | "update" | "promote")),
            Some("alarm") => c.sub(1) == Some("disarm"),
            _ => false,
        },
        "promtool" => (c.sub(0) == Some("tsdb") && c.sub(1) == Some("create-blocks-from")) || c.sub(0) == Some("push"),
        _ => false,
    }
}

/// `git branch NAME`, `-D`, `-m`; `git remote add`, `set-url`, `prune`…
fn git(c: &Call) -> bool {
    match c.sub(0) {
        Some("branch") => {
            let at = c.args.iter().position(|a| a == "branch").map_or(0, |i| i + 1);
            let o = super::opts::parse(
                &c.args[at..],
                &Spec {
                    short: "u",
                    long: &[
                        "--contains",
                        "--no-contains",
                        "--merged",
                        "--no-merged",
                        "--points-at",
                        "--sort",
                        "--format",
                        "--set-upstream-to",
                    ],
                    ..Spec::default()
                },
            );
            let changes = [('d', "delete"), ('D', ""), ('m', "move"), ('M', ""), ('c', "copy"), ('C', "")]
                .into_iter()
                .chain([('u', "set-upstream-to"), ('\0', "unset-upstream"), ('\0', "edit-description")])
                .chain([('f', "force"), ('\0', "create-reflog"), ('t', "track")])
                .any(|(s, l)| o.has(s, l));
            let lists = [('l', "list"), ('a', "all"), ('r', "remotes"), ('\0', "show-current")]
                .into_iter()
                .chain(["contains", "no-contains", "merged", "no-merged", "points-at"].map(|l| ('\0', l)))
                .any(|(s, l)| o.has(s, l));
            changes || (o.operands().next().is_some() && !lists)
        }
        Some("remote") => matches!(
            c.sub(1),
            Some("add" | "remove" | "rm" | "rename" | "set-url" | "set-head" | "set-branches" | "prune" | "update")
        ),
        _ => false,
    }
}
