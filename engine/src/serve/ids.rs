//! The ids a URL may carry (a run, a runbook, a step): checked before any
//! store or file is looked at, so no path can leave the state or runbooks
//! directory whatever the store does with an id. A run must also be one the
//! store lists, and a runbook one the catalog has.

/// Letters, digits, `.`, `_`, `-`; not empty, not starting with a dot, at
/// most 200 bytes. Every id the engine makes is of this shape.
pub fn valid(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && !id.starts_with('.')
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::valid;

    #[test]
    fn traversal_and_odd_bytes_are_refused() {
        for ok in ["20261130T034244Z-a-local-2", "2.1-head-stall", "scale_miners"] {
            assert!(valid(ok), "{ok}");
        }
        for bad in ["", ".", "..", "../x", "a/b", "a\\b", "..%2f", "a b", "a\0", ".hidden", "é", &"a".repeat(201)] {
            assert!(!valid(bad), "{bad:?}");
        }
    }
}
