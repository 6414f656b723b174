//! The lanes: one per process grouped under its node (with a thin bar for the node itself and, for a
//! node with a kubelet, its Node object's lane from `nodes`), etcd leader elections marked with their
//! term, and one band per capability.

use super::columns::Shade;
use super::frame::Frame;
use super::nodes::{
    draw_node_lane, draw_workload_bands, draw_zone_node_lane, merge_steps, node_objects,
    NodeObjects,
};
use super::scene::{Anchor, Prim, Scene};
use super::style::{text_width, C_DOWN, C_MARK, C_NODE_UP, LANE_GAP, LANE_H, NODE_H, WIDTH, X0};
use super::write::esc;
use crate::components::etcd::types::Role;
use crate::engine::{fmt_duration, Nanos};
use crate::observe::timeline::Timeline;
use crate::observe::{ProcState, TraceKind};
use crate::run::Outcome;
use crate::topology::NodeSpec;

/// Per-process lane changes: the Proc states, with a leader-elected component's `Up` refined into
/// leader or standby by its Acting events.
fn lane_changes(o: &Outcome) -> Vec<Vec<(Nanos, Shade)>> {
    let n = o.layout.procs.len();
    let mut out: Vec<Vec<(Nanos, Shade)>> = vec![Vec::new(); n];
    let mut state: Vec<ProcState> = vec![ProcState::Down; n];
    let mut acting: Vec<Option<bool>> = vec![None; n];
    let effective = |s: ProcState, a: Option<bool>| match (s, a) {
        (ProcState::Up, Some(true)) => Shade::Leader,
        (ProcState::Up, Some(false)) => Shade::Standby,
        (s, _) => Shade::of(s),
    };
    for e in &o.trace.events {
        let p = match e.kind {
            TraceKind::Proc { proc, state: s } if (proc as usize) < n => {
                state[proc as usize] = s;
                if s == ProcState::Down {
                    if let Some(a) = acting[proc as usize].as_mut() {
                        *a = false;
                    }
                }
                proc as usize
            }
            TraceKind::Acting { proc, acting: a } if (proc as usize) < n => {
                acting[proc as usize] = Some(a);
                proc as usize
            }
            _ => continue,
        };
        let s = effective(state[p], acting[p]);
        let lane = &mut out[p];
        match lane.last_mut() {
            Some(last) if last.0 == e.time_ns => last.1 = s,
            Some(last) if last.1 == s => {}
            _ => lane.push((e.time_ns, s)),
        }
    }
    out
}

/// What the trace says about nodes and etcd leaders, gathered in one pass: per node its up/down
/// changes, per process the `(time, term)` of each election it won.
struct NodesAndElections {
    node_changes: Vec<Vec<(Nanos, Shade)>>,
    leader_marks: Vec<Vec<(Nanos, u64)>>,
}

fn nodes_and_elections(o: &Outcome) -> NodesAndElections {
    let mut node_changes: Vec<Vec<(Nanos, Shade)>> = vec![Vec::new(); o.layout.nodes.len()];
    let mut leader_marks: Vec<Vec<(Nanos, u64)>> = vec![Vec::new(); o.layout.procs.len()];
    for e in &o.trace.events {
        match e.kind {
            TraceKind::Node { node, up } if (node as usize) < node_changes.len() => {
                node_changes[node as usize]
                    .push((e.time_ns, if up { Shade::Up } else { Shade::Down }));
            }
            TraceKind::EtcdRole {
                proc,
                role: Role::Leader,
                term,
            } if (proc as usize) < leader_marks.len() => {
                leader_marks[proc as usize].push((e.time_ns, term))
            }
            _ => {}
        }
    }
    NodesAndElections {
        node_changes,
        leader_marks,
    }
}

/// Above this many workers, the workers are drawn as one summary lane per zone instead of a lane
/// group each (500 workers made a picture 16,887 pixels tall).
pub(super) const WORKER_LANES_MAX: usize = 12;

/// Draws the lanes, grouped by node, from `y`; returns the y below them. Many workers are summarised
/// per zone ([`draw_worker_zones`]).
pub(super) fn draw_lanes(scene: &mut Scene, o: &Outcome, frame: &Frame, mut y: f64) -> f64 {
    let changes = lane_changes(o);
    let marks = nodes_and_elections(o);
    let objects = node_objects(o);
    let is_worker = |n: &NodeSpec| n.kind == crate::topology::NodeKind::Worker;
    let summarise = o.layout.nodes.iter().filter(|n| is_worker(n)).count() > WORKER_LANES_MAX;
    let mut zones_drawn = false;
    for (ni, node) in o.layout.nodes.iter().enumerate() {
        if summarise && is_worker(node) {
            if !zones_drawn {
                y = draw_worker_zones(scene, o, frame, (&changes, &objects), y);
                zones_drawn = true;
            }
            continue;
        }
        let procs: Vec<usize> = (0..o.layout.procs.len())
            .filter(|&p| o.layout.procs[p].node == ni)
            .collect();
        y = draw_node_header(scene, o, frame, node, &marks.node_changes[ni], y);
        // Nodes with a kubelet register a Node object; load balancer hosts have none.
        let registered = procs
            .iter()
            .any(|&p| o.layout.procs[p].kind == crate::topology::ProcKind::Kubelet);
        if registered {
            y = draw_node_lane(
                scene,
                o,
                frame,
                ("node", format!("data-node=\"{}\"", esc(&node.name))),
                &objects.states[ni],
                &objects.pods[ni],
                y,
            );
        }
        for p in procs {
            let name = &o.layout.procs[p].name;
            draw_proc_lane(scene, frame, o.end_ns, (name, &node.name), &changes[p], y);
            draw_leader_marks(scene, frame, name, &marks.leader_marks[p], y);
            y += LANE_H + LANE_GAP;
        }
    }
    y
}

/// The workers of each zone as one lane: up while every worker's kubelet runs, unready while some
/// do, down while none does; the label says how many workers the zone has. Under it, the zone's node
/// lane ([`draw_zone_node_lane`]).
fn draw_worker_zones(
    scene: &mut Scene,
    o: &Outcome,
    frame: &Frame,
    (changes, objects): (&[Vec<(Nanos, Shade)>], &NodeObjects),
    mut y: f64,
) -> f64 {
    use crate::topology::{NodeKind, ProcKind};
    scene.bold(10.0, y + 12.0, "workers", 11.0);
    y += NODE_H;
    for (zi, zone) in o.layout.zones.iter().enumerate() {
        let kubelets: Vec<usize> = (0..o.layout.procs.len())
            .filter(|&p| {
                let spec = &o.layout.procs[p];
                let node = &o.layout.nodes[spec.node];
                spec.kind == ProcKind::Kubelet && node.kind == NodeKind::Worker && node.zone == zi
            })
            .collect();
        if kubelets.is_empty() {
            continue;
        }
        let merged = zone_changes(kubelets.iter().map(|&p| changes[p].as_slice()));
        let label = format!("zone {zone} ({} workers)", kubelets.len());
        scene.text(22.0, y + LANE_H - 2.5, label, 11.0, Anchor::Start);
        scene.main.push(Prim::Open(format!(
            "class=\"lane zone-workers\" data-zone=\"{}\" shape-rendering=\"crispEdges\"",
            esc(zone)
        )));
        scene.main.push(Prim::Title(format!(
            "workers in zone {zone}: green all kubelets up, yellow some, red none"
        )));
        let cols = frame.columns(Shade::Down, &merged, o.end_ns);
        frame.draw_columns(scene, &cols, y, LANE_H, Shade::color);
        scene.main.push(Prim::Close);
        y += LANE_H + LANE_GAP;
        let workers: Vec<usize> = kubelets.iter().map(|&p| o.layout.procs[p].node).collect();
        y = draw_zone_node_lane(scene, o, frame, objects, (zone, &workers), y);
    }
    y
}

/// Merges lanes into one: up while all are up (or lead or stand by), down while none is, unready
/// otherwise.
fn zone_changes<'a>(lanes: impl Iterator<Item = &'a [(Nanos, Shade)]>) -> Vec<(Nanos, Shade)> {
    let lanes: Vec<&[(Nanos, Shade)]> = lanes.collect();
    merge_steps(&lanes, Shade::Down, |state| {
        let up = state
            .iter()
            .filter(|s| matches!(s, Shade::Up | Shade::Leader | Shade::Standby))
            .count();
        if up == state.len() {
            Shade::Up
        } else if up == 0 {
            Shade::Down
        } else {
            Shade::Unready
        }
    })
}

/// Node header: name, zone, and a thin bar that is grey while the node is up, red while down, so a
/// node failure reads at a glance above the lanes it takes down. Returns the y below it.
fn draw_node_header(
    scene: &mut Scene,
    o: &Outcome,
    frame: &Frame,
    node: &NodeSpec,
    changes: &[(Nanos, Shade)],
    y: f64,
) -> f64 {
    let zone = o
        .layout
        .zones
        .get(node.zone)
        .map(String::as_str)
        .unwrap_or("?");
    scene.bold(10.0, y + 12.0, node.name.clone(), 11.0);
    scene.muted(
        12.0 + text_width(&node.name, 11.0) + 4.0,
        y + 12.0,
        format!("zone {zone}"),
        9.0,
        Anchor::Start,
    );
    scene.main.push(Prim::Open(format!(
        "class=\"node\" data-node=\"{}\" shape-rendering=\"crispEdges\"",
        esc(&node.name)
    )));
    scene.main.push(Prim::Title(format!("node {}", node.name)));
    let cols = frame.columns(Shade::Up, changes, o.end_ns);
    frame.draw_columns(scene, &cols, y + 7.0, 3.0, |s| {
        if s == Shade::Down {
            C_DOWN
        } else {
            C_NODE_UP
        }
    });
    scene.main.push(Prim::Close);
    y + NODE_H
}

/// One process lane at `y`: its short name on the left and its states across, in a group that names
/// the process and its node (`names` = (process, node)) for tooltips and the HTML report's filter.
fn draw_proc_lane(
    scene: &mut Scene,
    frame: &Frame,
    end_ns: Nanos,
    names: (&str, &str),
    changes: &[(Nanos, Shade)],
    y: f64,
) {
    let (proc_name, node_name) = names;
    let short = proc_name
        .split_once('/')
        .map(|(_, b)| b)
        .unwrap_or(proc_name);
    scene.text(22.0, y + LANE_H - 2.5, short, 11.0, Anchor::Start);
    scene.main.push(Prim::Open(format!(
        "class=\"lane\" data-proc=\"{}\" data-node=\"{}\" shape-rendering=\"crispEdges\"",
        esc(proc_name),
        esc(node_name)
    )));
    scene.main.push(Prim::Title(proc_name.to_string()));
    let cols = frame.columns(Shade::Down, changes, end_ns);
    frame.draw_columns(scene, &cols, y, LANE_H, Shade::color);
    scene.main.push(Prim::Close);
}

/// Leader elections: a marker at the top of the new leader's lane, with the term. At most one marker
/// per pixel column, and a term label only where it does not crowd the previous one.
fn draw_leader_marks(
    scene: &mut Scene,
    frame: &Frame,
    proc_name: &str,
    marks: &[(Nanos, u64)],
    y: f64,
) {
    let mut last_col = usize::MAX;
    let mut last_label = f64::NEG_INFINITY;
    for &(t, term) in marks {
        let x = frame.x(t);
        let col = (x - X0) as usize;
        if col == last_col {
            continue;
        }
        last_col = col;
        scene.front.push(Prim::Polygon {
            points: vec![(x - 3.5, y), (x + 3.5, y), (x, y + 5.0)],
            fill: C_MARK,
            title: Some(format!(
                "{proc_name} became etcd leader at {} (term {term})",
                fmt_duration(t)
            )),
        });
        let label = format!("t{term}");
        if x - last_label >= 30.0 && x + 3.0 + text_width(&label, 9.0) <= WIDTH {
            last_label = x;
            lane_label(scene, x + 4.0, y, label);
        }
    }
}

/// A white bold label inside the lane at `y`, starting at `x` (a term, a node's name, a count).
pub(super) fn lane_label(scene: &mut Scene, x: f64, y: f64, text: String) {
    scene.front.push(Prim::Text {
        x,
        y: y + LANE_H - 3.0,
        text,
        size: 9.0,
        color: (255, 255, 255),
        anchor: Anchor::Start,
        bold: true,
    });
}

/// Capability bands under the lanes (when the run has timelines), the VIP holder when keepalived
/// runs, and each workload's ready replicas; returns the y below them.
pub(super) fn draw_bands(scene: &mut Scene, o: &Outcome, frame: &Frame, mut y: f64) -> f64 {
    if o.timelines.is_empty() {
        return y;
    }
    y += 4.0;
    scene.bold(10.0, y + 12.0, "capabilities", 11.0);
    y += NODE_H;
    for tl in &o.timelines {
        draw_band(scene, frame, o.end_ns, tl, y);
        y += LANE_H + LANE_GAP;
    }
    let vip: Vec<(Nanos, Option<u16>)> = o
        .trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            TraceKind::Vip { node } => Some((e.time_ns, node)),
            _ => None,
        })
        .collect();
    let keepalived = o
        .layout
        .procs
        .iter()
        .any(|p| p.kind == crate::topology::ProcKind::Keepalived);
    if keepalived {
        draw_vip_band(scene, o, frame, &vip, y);
        y += LANE_H + LANE_GAP;
    }
    draw_workload_bands(scene, o, frame, y)
}

/// The VIP holder: green while a node holds the VIP (its name written at each change), red while
/// nobody does.
fn draw_vip_band(
    scene: &mut Scene,
    o: &Outcome,
    frame: &Frame,
    changes: &[(Nanos, Option<u16>)],
    y: f64,
) {
    scene.text(22.0, y + LANE_H - 2.5, "VIP holder", 11.0, Anchor::Start);
    scene.main.push(Prim::Open(
        "class=\"band\" data-cap=\"vip-holder\" shape-rendering=\"crispEdges\"".into(),
    ));
    scene.main.push(Prim::Title(
        "the node holding the virtual IP (red: nobody)".into(),
    ));
    let shades: Vec<(Nanos, Shade)> = changes
        .iter()
        .map(|&(t, n)| (t, if n.is_some() { Shade::Up } else { Shade::Down }))
        .collect();
    let cols = frame.columns(Shade::Down, &shades, o.end_ns);
    frame.draw_columns(scene, &cols, y, LANE_H, Shade::color);
    scene.main.push(Prim::Close);
    let mut last_label = f64::NEG_INFINITY;
    for &(t, n) in changes {
        let Some(name) = n
            .and_then(|n| o.layout.nodes.get(n as usize))
            .map(|n| &n.name)
        else {
            continue;
        };
        let x = frame.x(t);
        if x - last_label >= 40.0 && x + 3.0 + text_width(name, 9.0) <= WIDTH {
            last_label = x;
            lane_label(scene, x + 3.0, y, name.clone());
        }
    }
}

/// One capability band at `y`: up or down over time, in a group that names the capability.
fn draw_band(scene: &mut Scene, frame: &Frame, end_ns: Nanos, tl: &Timeline, y: f64) {
    let name = tl.capability.name();
    scene.text(22.0, y + LANE_H - 2.5, name, 11.0, Anchor::Start);
    scene.main.push(Prim::Open(format!(
        "class=\"band\" data-cap=\"{name}\" shape-rendering=\"crispEdges\""
    )));
    scene.main.push(Prim::Title(format!("capability {name}")));
    let ch: Vec<(Nanos, Shade)> = tl
        .intervals
        .iter()
        .map(|i| (i.start_ns, if i.up { Shade::Up } else { Shade::Down }))
        .collect();
    let cols = frame.columns(Shade::Down, &ch, end_ns);
    frame.draw_columns(scene, &cols, y, LANE_H, Shade::color);
    scene.main.push(Prim::Close);
}
