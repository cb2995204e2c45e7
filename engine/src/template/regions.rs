//! The `{{ … }}` and `{% … %}` regions of a template, rewritten one by one
//! into a copy: what the name analyses ([`super::names`], [`super::guard`])
//! read instead of the template itself. Text outside the regions is kept as
//! it is; an unclosed region ends the rewriting, the rest kept as it is.

/// `text` with the inside of each region replaced by `f(close, inside)`,
/// `close` being `}}` or `%}`.
pub fn rewrite(text: &str, mut f: impl FnMut(&str, &str) -> String) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let close = match after.as_bytes().first() {
            Some(b'{') => "}}",
            Some(b'%') => "%}",
            _ => {
                out.push_str(&rest[..=start]);
                rest = after;
                continue;
            }
        };
        let inner = &after[1..];
        let Some(end) = inner.find(close) else { break };
        out.push_str(&rest[..start + 2]);
        out.push_str(&f(close, &inner[..end]));
        out.push_str(close);
        rest = &inner[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_region_is_rewritten_and_the_rest_kept() {
        let upper = |_: &str, inside: &str| inside.to_uppercase();
        assert_eq!(rewrite("a {x} {{ b }} {% c %} {{ d", upper), "a {x} {{ B }} {% C %} {{ d");
    }
}
