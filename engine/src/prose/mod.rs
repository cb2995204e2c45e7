//! A runbook's page is its author's markdown, and markdown lets raw HTML
//! through: a `<meta http-equiv="refresh">` would send the reader elsewhere
//! (the CSP does not stop it), a `javascript:` link would be one click from
//! running, an `<img onerror>` would run on sight. Anyone with a pull request
//! writes a runbook; everyone with the wiki's origin reads it. Both places
//! that show a page clean it with one allow-list: `runbook serve` cleans the
//! HTML it renders ([`clean`], ammonia), the static wiki cleans the markdown
//! it hands mdBook ([`clean_markdown`]), since mdBook renders it later. What
//! markdown makes (headings, links, code, lists, tables, `<details>`) and
//! what the wiki adds (its env selector, step headers, `data-runbook-*`
//! attributes, task lists) stay; any other tag, any event handler, any
//! `style`, any URL but a web, mail or relative one go.

mod markdown;
mod tags;

pub use markdown::clean_markdown;

use std::sync::OnceLock;

fn cleaner() -> &'static ammonia::Builder<'static> {
    static B: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    B.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        b.add_tags(["select", "option", "input"])
            .add_generic_attributes(["class", "id", "hidden", "aria-label"])
            .add_generic_attribute_prefixes(["data-runbook-"])
            .add_tag_attributes("option", ["value"])
            .add_tag_attributes("input", ["checked", "disabled"])
            .add_tag_attribute_values("input", "type", ["checkbox"])
            .url_schemes(["http", "https", "mailto"].into());
        b
    })
}

/// The HTML of a runbook's page, safe to serve.
pub fn clean(html: &str) -> String {
    cleaner().clean(html).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_a_script_and_a_javascript_link_go() {
        assert_eq!(
            clean("<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example/\">\n<p>Hi</p>\n"),
            "\n<p>Hi</p>\n"
        );
        assert_eq!(
            clean("<p><a href=\"javascript:alert(1)\">go</a></p>"),
            "<p><a rel=\"noopener noreferrer\">go</a></p>"
        );
        assert_eq!(clean("<p onclick=\"x()\" style=\"color:red\">a<script>x()</script></p>"), "<p>a</p>");
        assert_eq!(clean("<img src=\"x\" onerror=\"alert(1)\">"), "<img src=\"x\">");
        assert_eq!(clean("<input type=\"text\" value=\"x\"><form action=\"/x\">y</form>"), "<input>y");
    }

    #[test]
    fn what_markdown_and_the_wiki_make_stays() {
        for html in [
            "<h2 id=\"fix\">Fix</h2>",
            "<p><a href=\"https://example.com/a?b=1\" rel=\"noopener noreferrer\">doc</a> <a href=\"#step-a\" rel=\"noopener noreferrer\"><code>a</code></a></p>",
            "<pre><code class=\"language-bash\">echo &lt;b&gt;\n</code></pre>",
            "<ul>\n<li><input disabled=\"\" type=\"checkbox\"> drain</li>\n</ul>",
            "<table><thead><tr><th>a</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>",
            "<div class=\"runbook-summary\" data-runbook-envs=\"devnet prod\" data-runbook-default=\"devnet\"><p>x</p></div>",
            "<p class=\"runbook-envs\"><select class=\"runbook-env-select\" aria-label=\"environment\" hidden=\"\"><option value=\"prod\">prod</option></select></p>",
            "<pre class=\"runbook-code\" data-runbook-env=\"prod\" hidden=\"\"><code><span class=\"runbook-ph\" title=\"ns\">x</span></code></pre>",
            "<details class=\"runbook-machinery\">\n<summary>The plan</summary>\n</details>",
        ] {
            assert_eq!(clean(html), html);
        }
    }
}
