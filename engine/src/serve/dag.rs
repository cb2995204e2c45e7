//! The run page's step DAG, laid out on the server as inline SVG: no
//! script draws it, no CDN, nothing the CSP forbids (geometry is SVG
//! attributes, colours are classes of the embedded CSS). A column per
//! level, a node per step, an edge per dependency: `needs` solid, the
//! order of a step without `needs` (after the step before it) dashed. The
//! part is rendered again when the run changes, so statuses stay live.

use serde::Serialize;

use super::view::StepView;

const NODE_H: u32 = 26;
const ROW_GAP: u32 = 12;
const COL_GAP: u32 = 56;
const PAD: u32 = 4;
/// The advance of a character of the node's monospace font (12px), rounded up.
const CHAR_W: u32 = 8;

#[derive(Debug, Serialize)]
pub struct Node {
    pub id: String,
    pub status: String,
    pub title: String,
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    /// Where its label starts.
    pub tx: u32,
    pub ty: u32,
}

#[derive(Debug, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    /// `needs`, or `order` (a step without `needs` after the one before it).
    pub kind: &'static str,
    /// The status of the step it comes from.
    pub status: String,
    /// The SVG path.
    pub d: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Dag {
    pub width: u32,
    pub height: u32,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// Lay out `steps` in the columns `levels` (indexes into `steps`).
pub fn layout(steps: &[StepView], levels: &[Vec<usize>]) -> Dag {
    let mut dag = Dag::default();
    // Where each step's node is: (index into steps, node).
    let mut at: Vec<Option<usize>> = vec![None; steps.len()];
    let mut x = PAD;
    for col in levels {
        let w = col.iter().map(|&i| steps[i].id.chars().count() as u32 * CHAR_W + 20).max().unwrap_or(0).max(48);
        for (row, &i) in col.iter().enumerate() {
            let s = &steps[i];
            let y = PAD + row as u32 * (NODE_H + ROW_GAP);
            let needs = if s.needs.is_empty() { String::new() } else { format!("; needs {}", s.needs.join(", ")) };
            at[i] = Some(dag.nodes.len());
            dag.nodes.push(Node {
                id: s.id.clone(),
                status: s.status.clone(),
                title: format!("{}: {}{needs}", s.id, s.status),
                x,
                y,
                w,
                h: NODE_H,
                tx: x + 10,
                ty: y + NODE_H / 2 + 4,
            });
            dag.height = dag.height.max(y + NODE_H + PAD);
        }
        x += w + COL_GAP;
    }
    dag.width = x.saturating_sub(COL_GAP) + PAD;
    let node_of = |id: &str| steps.iter().position(|s| s.id == id).and_then(|i| at[i]);
    for (i, s) in steps.iter().enumerate() {
        let Some(to) = at[i] else { continue };
        let from: Vec<(&str, &'static str)> = if s.needs.is_empty() {
            s.after.as_deref().map(|a| (a, "order")).into_iter().collect()
        } else {
            s.needs.iter().map(|n| (n.as_str(), "needs")).collect()
        };
        for (f, kind) in from {
            let Some(fi) = node_of(f) else { continue };
            let (a, b) = (&dag.nodes[fi], &dag.nodes[to]);
            let (x1, y1, x2, y2) = (a.x + a.w, a.y + a.h / 2, b.x, b.y + b.h / 2);
            let mid = (x1 + x2) / 2;
            dag.edges.push(Edge {
                from: a.id.clone(),
                to: b.id.clone(),
                kind,
                status: a.status.clone(),
                d: format!("M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"),
            });
        }
    }
    dag
}
