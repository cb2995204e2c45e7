//! Instruction-count companion of benches/parse.rs: run under
//! `valgrind --tool=callgrind` to compare parse + plan with bare pulldown-cmark
//! deterministically (criterion's wall-clock numbers drift on a busy machine).
//! Usage: parse_loop [events|parse|yaml] FILE N
// The allocator of the `runbook` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "parse".into());
    let file = args.next().expect("FILE");
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let md = std::fs::read_to_string(&file).expect("read FILE");
    let mut total = 0;
    for _ in 0..n {
        total += match mode.as_str() {
            "events" => {
                pulldown_cmark::Parser::new_ext(&md, pulldown_cmark::Options::empty()).into_offset_iter().count()
            }
            "yaml" => {
                let yaml = md.split("---\n").nth(1).unwrap_or("");
                usize::from(runbook::parse::frontmatter::parse(yaml).is_ok())
            }
            _ => {
                let rb = runbook::parse::parse_str(std::path::Path::new("b.md"), &md, String::new()).expect("parses");
                runbook::plan::Dag::build(&rb).expect("plans").order.len()
            }
        };
    }
    println!("{total}");
}
