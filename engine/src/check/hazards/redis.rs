//! `redis-cli`: the Redis commands that read (`GET`, `INFO`, `CONFIG GET`,
//! `CLIENT LIST`, `SCAN`) and its modes that do (`--scan`, `--bigkeys`,
//! `--stat`, `--cluster check`). Any other command changes the server, or
//! is not known to only read (`DEBUG`, `EVAL`, `XREADGROUP`); redis-cli
//! without a command runs what its stdin says (a prompt, a pipe,
//! `--pipe`, `--eval FILE`).

use super::Call;
use super::rules::REDIS_VALUE;

/// Commands that read.
#[rustfmt::skip]
const READ: &[&str] = &[
    "get", "mget", "exists", "type", "ttl", "pttl", "expiretime", "pexpiretime", "strlen", "getrange", "substr",
    "keys", "scan", "dbsize", "info", "ping", "echo", "time", "hget", "hgetall", "hkeys", "hvals", "hlen", "hexists",
    "hmget", "hscan", "hstrlen", "hrandfield", "lrange", "llen", "lindex", "lpos", "smembers", "scard", "sismember",
    "smismember", "srandmember", "sscan", "sinter", "sintercard", "sunion", "sdiff", "zrange", "zrangebyscore",
    "zrangebylex", "zrevrange", "zrevrangebyscore", "zrevrangebylex", "zcard", "zcount", "zlexcount", "zscore",
    "zmscore", "zrank", "zrevrank", "zscan", "zrandmember", "zdiff", "zinter", "zunion", "zintercard", "pfcount",
    "xlen", "xrange", "xrevrange", "xpending", "xread", "geopos", "geodist", "geohash", "georadius_ro",
    "georadiusbymember_ro", "geosearch", "bitcount", "bitpos", "getbit", "bitfield_ro", "randomkey", "lastsave",
    "role", "dump", "lcs", "sort_ro", "monitor", "subscribe", "psubscribe", "ssubscribe", "lolwut", "hello",
];

/// Commands with subcommands, and those that read (`CONFIG GET`, not `CONFIG SET`).
#[rustfmt::skip]
const READ_SUB: &[(&str, &str)] = &[
    ("config", "get help"),
    ("client", "list info getname id help trackinginfo getredir"),
    ("cluster", "info nodes slots shards myid myshardid keyslot countkeysinslot getkeysinslot links count-failure-reports help"),
    ("memory", "usage stats doctor malloc-stats help"),
    ("slowlog", "get len help"),
    ("latency", "latest history doctor graph histogram help"),
    ("acl", "whoami list users getuser cat log dryrun help"),
    ("command", "count info docs list getkeys getkeysandflags help"),
    ("object", "encoding freq idletime refcount help"),
    ("xinfo", "stream groups consumers help"),
    ("pubsub", "channels numsub numpat shardchannels shardnumsub help"),
    ("script", "exists help"),
    ("function", "list dump stats help"),
    ("module", "list help"),
    ("sentinel", "masters master replicas slaves sentinels get-master-addr-by-name ckquorum info-cache myid primary primaries get-primary-addr-by-name help"),
];

/// Modes of redis-cli without a command that read.
#[rustfmt::skip]
const READ_MODES: &[&str] = &[
    "--scan", "--bigkeys", "--memkeys", "--hotkeys", "--keystats", "--stat", "--latency", "--latency-history",
    "--latency-dist", "--intrinsic-latency", "--version", "--help",
];

/// The Redis command and its first two arguments, lowercased.
fn command(c: &Call) -> Vec<String> {
    c.positional(REDIS_VALUE).iter().take(3).map(|s| s.to_lowercase()).collect()
}

fn read_command(words: &[String]) -> bool {
    let Some(cmd) = words.first() else { return false };
    if READ.contains(&cmd.as_str()) {
        return true;
    }
    let sub = words.get(1).map(String::as_str);
    if cmd == "command" && sub.is_none() {
        return true;
    }
    // `ACL LOG RESET` clears the log.
    if cmd == "acl" && words.get(2).is_some_and(|w| w == "reset") {
        return false;
    }
    READ_SUB.iter().any(|(name, subs)| name == cmd && sub.is_some_and(|s| subs.split(' ').any(|x| x == s)))
}

/// `--cluster SUBCOMMAND`: `check` and `info` read.
fn cluster_mode(c: &Call) -> Option<&str> {
    c.args.iter().position(|a| a == "--cluster").map(|i| c.args.get(i + 1).map_or("", String::as_str))
}

/// Does the call run a Redis command that is not known to only read?
pub fn writes(c: &Call) -> bool {
    if !c.is("redis-cli") {
        return false;
    }
    if let Some(sub) = cluster_mode(c) {
        return !matches!(sub, "check" | "info" | "help");
    }
    let words = command(c);
    !words.is_empty() && !read_command(&words)
}

/// Does the call only read?
pub fn reads(c: &Call) -> bool {
    if let Some(sub) = cluster_mode(c) {
        return matches!(sub, "check" | "info" | "help");
    }
    let words = command(c);
    if words.is_empty() { c.args.iter().any(|a| READ_MODES.contains(&a.as_str())) } else { read_command(&words) }
}

/// redis-cli reading commands from a terminal (no command, no mode).
pub fn prompt(c: &Call) -> bool {
    c.is("redis-cli")
        && cluster_mode(c).is_none()
        && command(c).is_empty()
        && !c.args.iter().any(|a| {
            READ_MODES.contains(&a.as_str()) || matches!(a.as_str(), "--pipe" | "--rdb" | "--functions-rdb" | "--eval")
        })
}
