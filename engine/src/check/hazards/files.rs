//! The files a command writes: a redirection (`> out`, the call `>` of
//! [`super::wrappers`]), `tee FILE`, `sort -o FILE`, `uniq IN OUT`, `curl
//! -o FILE`, `wget URL` (it saves the page), `openssl … -out FILE`, `find
//! -fprint FILE`, `psql -o FILE`, `redis-cli --rdb FILE`. A file written is
//! a change: `echo 1 | sudo tee /proc/sys/vm/drop_caches` is no diagnosis.
//! The terminal and `/dev/null` are no file.

use super::Call;
use super::http::CURL;
use super::opts::Spec;
use super::sql::PSQL;

/// Targets that keep nothing: the output streams, the terminal, `/dev/null`.
pub fn harmless(target: &str) -> bool {
    matches!(target, "-" | "/dev/null" | "/dev/stdout" | "/dev/stderr" | "/dev/tty")
        || target.strip_prefix("/dev/fd/").is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
}

/// Does the call write a file?
pub fn writes(c: &Call) -> bool {
    let file = |v: Option<&str>| v.is_some_and(|f| !harmless(f));
    match c.program.as_str() {
        ">" => true,
        "tee" => c.opts(&Spec::default()).operands().any(|f| !harmless(f)),
        "sort" => file(c.opts(&SORT).get('o', "output")),
        // `uniq IN OUT`
        "uniq" => file(c.opts(&UNIQ).operands().nth(1)),
        "curl" | "curlie" => {
            let o = c.opts(&CURL);
            ['o', 'D', 'c'].into_iter().zip(["output", "dump-header", "cookie-jar"]).any(|(s, l)| file(o.get(s, l)))
                || o.has('O', "remote-name")
                || o.has('\0', "remote-name-all")
                || ["trace", "trace-ascii", "libcurl", "stderr", "etag-save"].into_iter().any(|l| file(o.get('\0', l)))
        }
        "wget" => {
            let o = c.opts(&WGET);
            let saves = match o.get('O', "output-document") {
                Some(f) => !harmless(f),
                None => !o.has('\0', "spider"),
            };
            saves || file(o.get('o', "output-file")) || file(o.get('a', "append-output")) || o.has('\0', "save-cookies")
        }
        "openssl" => c
            .args
            .windows(2)
            .any(|w| matches!(w[0].as_str(), "-out" | "-keyout" | "--out" | "--keyout") && !harmless(&w[1])),
        "find" => c.args.iter().any(|a| matches!(a.as_str(), "-fprint" | "-fprint0" | "-fprintf" | "-fls")),
        "psql" => {
            let o = c.opts(&PSQL);
            file(o.get('o', "output")) || file(o.get('L', "log-file"))
        }
        "redis-cli" => {
            c.args.windows(2).any(|w| matches!(w[0].as_str(), "--rdb" | "--functions-rdb") && !harmless(&w[1]))
        }
        _ => false,
    }
}

#[rustfmt::skip]
const SORT: Spec = Spec {
    short: "koStT",
    attached: "",
    long: &[
        "--key", "--output", "--buffer-size", "--field-separator", "--temporary-directory", "--batch-size",
        "--compress-program", "--files0-from", "--parallel", "--random-source", "--sort",
    ],
    posix: false,
};
const UNIQ: Spec =
    Spec { short: "fsw", attached: "", long: &["--skip-fields", "--skip-chars", "--check-chars"], posix: false };
#[rustfmt::skip]
const WGET: Spec = Spec {
    short: "oaOPeiBtTwQUlARDXI",
    attached: "",
    long: &[
        "--output-file", "--append-output", "--output-document", "--directory-prefix", "--execute", "--input-file",
        "--base", "--tries", "--timeout", "--wait", "--quota", "--user-agent", "--level", "--accept", "--reject",
        "--domains", "--exclude-directories", "--include-directories", "--header", "--user", "--password",
        "--post-data", "--post-file", "--method", "--body-data", "--body-file", "--referer", "--save-cookies",
        "--load-cookies", "--ca-certificate", "--certificate", "--private-key",
    ],
    posix: false,
};
