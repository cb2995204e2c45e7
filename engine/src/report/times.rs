//! How every view of a run writes a time and a duration: `runbook report`,
//! `runbook runs` and the run page of `runbook serve` use these, so a time
//! or a duration read on the page is the report's, character for character.

use std::time::Duration;

/// `2026-11-28T03:15:00.123Z` → `2026-11-28 03:15:00 UTC` (none: empty).
pub fn utc(t: &str) -> String {
    if t.is_empty() {
        return String::new();
    }
    let t = t.trim_end_matches('Z');
    let t = t.split('.').next().unwrap_or(t);
    format!("{} UTC", t.replace('T', " "))
}

/// `2026-11-28T03:15:00.123Z` → `03:15:00` (none: empty).
pub fn clock(t: &str) -> String {
    utc(t).split(' ').nth(1).unwrap_or("").to_string()
}

/// `0.4s`, `42s`, `3m05s`, `1h02m`; `–` when there is none.
pub fn duration(ms: Option<u64>) -> String {
    ms.map(|m| crate::time::short(Duration::from_millis(m))).unwrap_or_else(|| "–".into())
}

/// The time from `from` to `to` (RFC 3339) as [`duration`] writes it;
/// `None` where either cannot be read or `to` is before `from`.
pub fn span(from: &str, to: &str) -> Option<String> {
    let (a, b) = (crate::time::parse(from)?, crate::time::parse(to)?);
    b.duration_since(a).ok().map(crate::time::short)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations() {
        assert_eq!(utc("2026-11-28T03:15:00.123Z"), "2026-11-28 03:15:00 UTC");
        assert_eq!(clock("2026-11-28T03:15:00.123Z"), "03:15:00");
        assert_eq!((utc(""), clock("")), (String::new(), String::new()));
        assert_eq!(
            (duration(Some(1500)), duration(Some(65_000)), duration(None)),
            ("1.5s".into(), "1m05s".into(), "–".into())
        );
        assert_eq!(span("2026-11-28T03:15:00.000Z", "2026-11-28T03:16:08.000Z").as_deref(), Some("1m08s"));
        assert_eq!(span("", "2026-11-28T03:16:08.000Z"), None);
    }
}
