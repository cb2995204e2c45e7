//! UTC timestamps without a calendar crate: RFC 3339 via humantime, and the
//! compact sortable form used in run ids.

use std::time::{Duration, SystemTime};

/// `2026-11-28T03:15:00.123Z`
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// `20261128T031500Z`
pub fn compact(t: SystemTime) -> String {
    let s = humantime::format_rfc3339_seconds(t).to_string();
    s.chars().filter(|c| *c != '-' && *c != ':').collect()
}

/// The time of a run id (`20261128T031500Z`).
pub fn parse_compact(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let t = format!("{}-{}-{}T{}:{}:{}Z", &s[..4], &s[4..6], &s[6..8], &s[9..11], &s[11..13], &s[13..15]);
    humantime::parse_rfc3339(&t).ok()
}

pub fn parse(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(s.trim_end_matches('Z')).ok()
}

/// `1.2s`, `3m04s`, `1h02m`: short, for spinners and reports.
pub fn short(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 10_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else if ms < 60_000 {
        format!("{}s", d.as_secs())
    } else if ms < 3_600_000 {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    } else {
        format!("{}h{:02}m", d.as_secs() / 3600, (d.as_secs() / 60) % 60)
    }
}

/// `40s`, `12m`, `5h`, `3d`: an age, to its largest unit (hours up to two
/// days).
pub fn coarse(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..172_800 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_parse() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(compact(t), "20231114T221320Z");
        assert_eq!(parse_compact("20231114T221320Z"), Some(t));
        assert_eq!(parse_compact("2023-11-14T22:13"), None);
        let s = humantime::format_rfc3339_millis(t).to_string();
        assert_eq!(parse(&s), Some(t));
        assert_eq!(short(Duration::from_millis(1234)), "1.2s");
        assert_eq!(short(Duration::from_secs(184)), "3m04s");
        let ages = [59, 60, 3599, 3600, 172_799, 172_800].map(|s| coarse(Duration::from_secs(s)));
        assert_eq!(ages, ["59s", "1m", "59m", "1h", "47h", "2d"]);
    }
}
