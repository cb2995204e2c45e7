//! `runbook graph ID`: the step DAG as Graphviz dot or mermaid.

use super::args::GraphFormat;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::{Exit, Result};
use crate::model::Runbook;
use crate::plan::{Dag, EdgeKind};

pub fn run(config: &Config, id: &str, format: GraphFormat) -> Result<Exit> {
    let rb = Catalog::find(config, id)?;
    let dag = Dag::build(&rb)?;
    super::out(&match format {
        GraphFormat::Dot => dot(&rb, &dag),
        GraphFormat::Mermaid => mermaid(&rb, &dag),
    });
    Ok(Exit::Success)
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

pub fn dot(rb: &Runbook, dag: &Dag) -> String {
    let mut o = format!("digraph \"{}\" {{\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n", esc(&rb.id));
    for (i, s) in rb.steps.iter().enumerate() {
        let style = if s.attrs.undo {
            ", style=dashed"
        } else if s.attrs.read {
            ""
        } else {
            ", style=bold"
        };
        let _ = i;
        o.push_str(&format!("  \"{}\" [label=\"{}\\n{}\"{style}];\n", esc(&s.id), esc(&s.id), s.kind.name()));
    }
    for &i in &dag.order {
        for e in dag.deps(i) {
            let style = if e.kind == EdgeKind::After { " [style=dotted]" } else { "" };
            o.push_str(&format!("  \"{}\" -> \"{}\"{style};\n", esc(&rb.steps[e.from].id), esc(&rb.steps[i].id)));
        }
        if let Some(u) = dag.rollback[i] {
            o.push_str(&format!(
                "  \"{}\" -> \"{}\" [style=dashed, label=\"rollback\"];\n",
                esc(&rb.steps[i].id),
                esc(&rb.steps[u].id)
            ));
        }
    }
    o.push_str("}\n");
    o
}

pub fn mermaid(rb: &Runbook, dag: &Dag) -> String {
    let node = |i: usize| format!("s{i}");
    let mut o = String::from("flowchart TD\n");
    for (i, s) in rb.steps.iter().enumerate() {
        let label = s.id.replace('"', "#quot;");
        if s.attrs.read {
            o.push_str(&format!("  {}[\"{label}\"]\n", node(i)));
        } else {
            o.push_str(&format!("  {}[[\"{label}\"]]\n", node(i)));
        }
    }
    for &i in &dag.order {
        for e in dag.deps(i) {
            let arrow = if e.kind == EdgeKind::After { "-.->" } else { "-->" };
            o.push_str(&format!("  {} {arrow} {}\n", node(e.from), node(i)));
        }
        if let Some(u) = dag.rollback[i] {
            o.push_str(&format!("  {} -. rollback .-> {}\n", node(i), node(u)));
        }
    }
    o
}
