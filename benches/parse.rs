//! Parse + plan throughput next to bare pulldown-cmark event iteration over
//! the same bytes (issue 2: the engine should reach at least half of it).

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

// The allocator of the `runbook` binary, so that both sides are measured as
// the binary runs them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn corpus() -> String {
    let para = "The on-call engineer checks the pods, the logs of the node and of the miner, and compares the head \
                height with the expected block interval. If the head is stalled, the remediation below applies.";
    let mut md = String::from("---\nid: bench\nvars:\n  tail: 200\n---\n# Bench runbook\n\n");
    for s in 0..10 {
        let needs = if s > 1 && s % 3 == 0 { format!(" needs=s{},s{}", s - 2, s - 1) } else { String::new() };
        md.push_str(&format!(
            "## Step {s}\n\n{para}\n\n```bash {{#s{s} read timeout=30s{needs}}}\nkubectl get pods -n {{{{ namespace }}}} -o wide\nkubectl logs deploy/x --tail={{{{ tail }}}} | grep -c WorkExpired || true\n```\n\n"
        ));
    }
    md
}

fn bench(c: &mut Criterion) {
    let md = corpus();
    let mut g = c.benchmark_group("runbook");
    g.throughput(Throughput::Bytes(md.len() as u64));
    g.bench_function("pulldown-cmark events", |b| {
        b.iter(|| {
            let p = pulldown_cmark::Parser::new_ext(&md, pulldown_cmark::Options::empty()).into_offset_iter();
            std::hint::black_box(p.count())
        })
    });
    g.bench_function("parse + plan", |b| {
        b.iter(|| {
            let rb = runbook::parse::parse_str(Path::new("bench.md"), &md, String::new()).unwrap();
            let dag = runbook::plan::Dag::build(&rb).unwrap();
            std::hint::black_box((rb.steps.len(), dag.order.len()))
        })
    });
    g.bench_function("pulldown-cmark events, runbook options", |b| {
        let o = pulldown_cmark::Options::ENABLE_TABLES
            | pulldown_cmark::Options::ENABLE_TASKLISTS
            | pulldown_cmark::Options::ENABLE_STRIKETHROUGH;
        b.iter(|| std::hint::black_box(pulldown_cmark::Parser::new_ext(&md, o).into_offset_iter().count()))
    });
    let yaml = md.split("---\n").nth(1).unwrap().to_string();
    g.bench_function("yaml only", |b| {
        b.iter(|| std::hint::black_box(runbook::parse::frontmatter::parse(&yaml).is_ok()))
    });
    let rb = runbook::parse::parse_str(Path::new("bench.md"), &md, String::new()).unwrap();
    g.bench_function("plan only", |b| {
        b.iter(|| std::hint::black_box(runbook::plan::Dag::build(&rb).unwrap().order.len()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
