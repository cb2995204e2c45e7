//! SQL that changes a database, given to `psql -c` or `mysql -e`.
//!
//! A statement reads when it starts as a read does (`SELECT`, `WITH`,
//! `SHOW`, `EXPLAIN`, a transaction's `BEGIN`…), names no statement that
//! writes (`DELETE`, `VACUUM`, `COPY`, `INTO`, `FOR UPDATE`…) and calls no
//! server function that does (`pg_terminate_backend`, `setval`); `SET
//! GLOBAL` changes the server. Client commands are judged too: psql's `\!`,
//! `\copy`, `\o FILE`, `\i FILE`, mysql's `source`, `system`, `\!`.
//! String literals and comments are not looked into (`'delete me'` deletes
//! nothing); a function of the database's own (`SELECT archive_rows()`) is
//! not known here and reads.

use super::Call;
use super::opts::Spec;

/// psql's options that take a value.
#[rustfmt::skip]
pub const PSQL: Spec = Spec {
    short: "cdfFhLopPRTUv",
    attached: "",
    long: &[
        "--command", "--dbname", "--file", "--field-separator", "--host", "--log-file", "--output", "--port", "--pset",
        "--record-separator", "--table-attr", "--username", "--set", "--variable",
    ],
    posix: false,
};

/// mysql's options that take a value (`-pSECRET`: attached only).
pub const MYSQL: Spec = Spec {
    short: "eDhPSu",
    attached: "p",
    long: &["--execute", "--database", "--host", "--port", "--socket", "--user", "--defaults-file"],
    posix: false,
};

/// How a statement that reads starts.
const STARTS: &[&str] = &[
    "select", "with", "show", "explain", "describe", "desc", "table", "values", "help", "set", "begin", "start",
    "commit", "rollback", "end", "abort", "fetch", "declare", "close", "listen", "unlisten", "discard", "use",
    "checksum", "status",
];

/// Words of statements that write (or run what is not seen here).
#[rustfmt::skip]
const WRITES: &[&str] = &[
    "insert", "update", "delete", "drop", "truncate", "alter", "create", "grant", "revoke", "vacuum", "copy", "call",
    "do", "merge", "upsert", "replace", "load", "reindex", "cluster", "refresh", "comment", "lock", "unlock",
    "security", "import", "rename", "kill", "flush", "purge", "reset", "checkpoint", "notify", "shutdown", "restart",
    "install", "uninstall", "optimize", "repair", "into", "outfile", "dumpfile", "source", "system", "execute",
    "prepare", "handler",
];

/// Server functions that change something.
#[rustfmt::skip]
const FUNCTIONS: &[&str] = &[
    "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile", "pg_switch_wal",
    "pg_switch_xlog", "pg_promote", "pg_create_restore_point", "pg_create_physical_replication_slot",
    "pg_create_logical_replication_slot", "pg_drop_replication_slot", "pg_replication_slot_advance",
    "pg_wal_replay_pause", "pg_wal_replay_resume", "pg_xlog_replay_pause", "pg_xlog_replay_resume", "pg_stat_reset",
    "pg_stat_reset_shared", "pg_stat_reset_single_table_counters", "pg_stat_reset_single_function_counters",
    "pg_stat_reset_slru", "pg_stat_reset_replication_slot", "pg_stat_statements_reset", "pg_file_write",
    "pg_file_rename", "pg_file_unlink", "pg_start_backup", "pg_stop_backup", "pg_backup_start", "pg_backup_stop",
    "pg_notify", "lo_unlink", "lo_import", "lo_export", "lo_create", "lo_from_bytea", "lo_put", "setval", "nextval",
    "dblink_exec",
];

/// psql's backslash commands that write a file, run a program or a file, or change a password.
#[rustfmt::skip]
const PSQL_META: &[&str] = &[
    "!", "copy", "o", "out", "w", "write", "i", "include", "ir", "include_relative", "gexec", "lo_import", "lo_export",
    "lo_unlink", "e", "edit", "ef", "ev", "password", "s",
];

/// Does the call run SQL that changes the database?
pub fn writes(c: &Call) -> bool {
    match c.program.as_str() {
        "psql" => c.opts(&PSQL).values('c', "command").into_iter().any(psql_writes),
        "mysql" | "mariadb" => c.opts(&MYSQL).values('e', "execute").into_iter().any(mysql_writes),
        _ => false,
    }
}

/// psql runs a string of SQL, or of backslash commands.
fn psql_writes(q: &str) -> bool {
    let q = q.trim_start();
    if q.starts_with('\\') {
        return q.split('\\').skip(1).any(|m| {
            let mut words = m.split_whitespace();
            let name = words.next().unwrap_or("");
            let name = if name.starts_with('!') { "!" } else { name };
            PSQL_META.contains(&name) || (matches!(name, "g" | "gx") && words.next().is_some())
        });
    }
    sql_writes(q)
}

/// mysql's client commands are statements of their own (`source f`,
/// `system cmd`); of its backslash commands, `\G` and `\g` end a
/// statement, any other (`\!`, `\.`, `\T`) is not read.
fn mysql_writes(q: &str) -> bool {
    let text = strip_strings(q);
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch == '\\' && !matches!(chars.peek(), Some('G' | 'g')) {
            return true;
        }
    }
    sql_writes(&text.replace("\\G", ";").replace("\\g", ";"))
}

fn sql_writes(q: &str) -> bool {
    let text = strip_strings(q).to_lowercase();
    text.split(';').any(|stmt| {
        let words: Vec<&str> =
            stmt.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect();
        let Some(first) = words.first() else { return false };
        !STARTS.contains(first)
            || (*first == "start" && words.get(1) != Some(&"transaction"))
            || words.iter().any(|w| WRITES.contains(w) || FUNCTIONS.contains(w))
            || words
                .windows(2)
                .any(|p| p[0] == "set" && matches!(p[1], "global" | "persist" | "persist_only" | "password"))
    })
}

/// The text with its `'…'` literals emptied and its comments (`-- …`, `/* … */`) dropped.
fn strip_strings(q: &str) -> String {
    let mut out = String::with_capacity(q.len());
    let mut chars = q.chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, chars.peek()) {
            ('\'', _) => {
                out.push_str("''");
                chars.by_ref().find(|c| *c == '\'');
            }
            ('-', Some('-')) => {
                chars.by_ref().find(|c| *c == '\n');
                out.push('\n');
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = ' ';
                chars.by_ref().find(|c| std::mem::replace(&mut last, *c) == '*' && *c == '/');
                out.push(' ');
            }
            _ => out.push(ch),
        }
    }
    out
}
