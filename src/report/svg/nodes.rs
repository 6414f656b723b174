//! The node lanes (issue 17): what the API says of each node, under its header. The Node object's
//! Ready condition as the node lifecycle controller stores it (Ready; NotReady, which the model's
//! controller writes as Unknown when the kubelet stops posting; tainted `unreachable:NoExecute`), so
//! the lag between a node dying (its header bar) and the API noticing (this lane), and the eviction
//! clock the taint starts, read at a glance. The kubelet's ready pods are written on the lane at each
//! change. Many workers are summarised per zone, as their process lanes are; the workloads get a band
//! each with their ready replicas.

use super::columns::Shade;
use super::frame::Frame;
use super::scene::{Anchor, Prim, Scene};
use super::style::{text_width, LANE_GAP, LANE_H, WIDTH};
use super::write::esc;
use crate::engine::Nanos;
use crate::observe::TraceKind;
use crate::run::Outcome;

/// A step function's changes: `(time, value)`, one per instant, none repeating its predecessor.
pub(super) type Steps<T> = Vec<(Nanos, T)>;

/// Appends a change, keeping [`Steps`]' shape: a second change at one instant replaces the first,
/// and a change to the current value is dropped.
fn push_change<T: PartialEq + Copy>(steps: &mut Steps<T>, t: Nanos, v: T) {
    if let Some(last) = steps.last_mut() {
        if last.0 == t {
            last.1 = v;
            return;
        }
        if last.1 == v {
            return;
        }
    }
    steps.push((t, v));
}

/// What the trace says of every node object: per node its state shade and its kubelet's ready pods.
pub(super) struct NodeObjects {
    /// Per node: Up (Ready), Unready (NotReady/Unknown), Tainted; nothing before the node lifecycle
    /// controller first writes the node.
    pub states: Vec<Steps<Shade>>,
    /// Per node: the ready pods its kubelet reports.
    pub pods: Vec<Steps<u32>>,
}

/// The shade of a node object: the taint outranks the condition (a tainted node is also NotReady).
fn node_shade(ready: Option<bool>, tainted: bool) -> Shade {
    match (ready, tainted) {
        (_, true) => Shade::Tainted,
        (Some(true), false) => Shade::Up,
        (Some(false), false) => Shade::Unready,
        (None, false) => Shade::Empty,
    }
}

/// Gathers [`NodeObjects`] in one pass over the trace.
pub(super) fn node_objects(o: &Outcome) -> NodeObjects {
    let n = o.layout.nodes.len();
    let mut ready: Vec<Option<bool>> = vec![None; n];
    let mut tainted = vec![false; n];
    let mut states: Vec<Steps<Shade>> = vec![Vec::new(); n];
    let mut pods: Vec<Steps<u32>> = vec![Vec::new(); n];
    for e in &o.trace.events {
        let node = match e.kind {
            TraceKind::NodeReady { node, ready: r } if (node as usize) < n => {
                ready[node as usize] = Some(r);
                node as usize
            }
            TraceKind::NodeTaint { node, tainted: t } if (node as usize) < n => {
                tainted[node as usize] = t;
                node as usize
            }
            TraceKind::Pods { proc, ready } => {
                if let Some(spec) = o.layout.procs.get(proc as usize) {
                    push_change(&mut pods[spec.node], e.time_ns, ready);
                }
                continue;
            }
            _ => continue,
        };
        push_change(
            &mut states[node],
            e.time_ns,
            node_shade(ready[node], tainted[node]),
        );
    }
    NodeObjects { states, pods }
}

/// Merges several step functions into one: at every instant any of them changes, `combine` of all
/// their current values (`initial` before a lane's first change).
pub(super) fn merge_steps<T: Copy, U: PartialEq + Copy>(
    lanes: &[&[(Nanos, T)]],
    initial: T,
    combine: impl Fn(&[T]) -> U,
) -> Steps<U> {
    let mut times: Vec<Nanos> = lanes.iter().flat_map(|l| l.iter().map(|c| c.0)).collect();
    times.sort_unstable();
    times.dedup();
    let mut at = vec![0usize; lanes.len()];
    let mut state = vec![initial; lanes.len()];
    let mut out: Steps<U> = Vec::new();
    for t in times {
        for (i, lane) in lanes.iter().enumerate() {
            while at[i] < lane.len() && lane[at[i]].0 <= t {
                state[i] = lane[at[i]].1;
                at[i] += 1;
            }
        }
        push_change(&mut out, t, combine(&state));
    }
    out
}

/// The tooltip of a node lane.
const NODE_LANE_TITLE: &str = "the Node object as the API stores it: green Ready, yellow NotReady \
     (Unknown: the kubelet stopped posting), orange tainted unreachable:NoExecute (pods evicted when \
     their toleration runs out); numbers: ready pods";

/// One node-state lane at `y`, labelled `label`, in a group with `attrs` (which node or zone it is),
/// with the ready pod counts written at their changes. Returns the y below it.
pub(super) fn draw_node_lane(
    scene: &mut Scene,
    o: &Outcome,
    frame: &Frame,
    (label, attrs): (&str, String),
    states: &[(Nanos, Shade)],
    pods: &[(Nanos, u32)],
    y: f64,
) -> f64 {
    scene.text(22.0, y + LANE_H - 2.5, label, 11.0, Anchor::Start);
    scene.main.push(Prim::Open(format!(
        "class=\"node-lane node-state\" {attrs} shape-rendering=\"crispEdges\""
    )));
    scene.main.push(Prim::Title(NODE_LANE_TITLE.into()));
    let cols = frame.columns(Shade::Empty, states, o.end_ns);
    frame.draw_columns_named(scene, &cols, y, LANE_H, |s| {
        let name = match s {
            Shade::Up => "Ready",
            Shade::Unready => "NotReady (Unknown)",
            Shade::Tainted => "tainted unreachable:NoExecute",
            Shade::Empty | Shade::Leader | Shade::Standby | Shade::Paused | Shade::Down => s.name(),
        };
        (s.color(), name)
    });
    scene.main.push(Prim::Close);
    let labels: Vec<(Nanos, String)> = pods
        .iter()
        .map(|&(t, n)| (t, format!("{n} pod{}", if n == 1 { "" } else { "s" })))
        .collect();
    draw_step_labels(scene, frame, &labels, y);
    y + LANE_H + LANE_GAP
}

/// Short white labels on a lane at its changes. A change that would crowd the label before it
/// replaces that label's text instead: a burst of changes (pods becoming ready one after another)
/// shows the value it ends at, which is what the lane's colour after it shows.
fn draw_step_labels(scene: &mut Scene, frame: &Frame, labels: &[(Nanos, String)], y: f64) {
    let mut placed: Vec<(f64, &str)> = Vec::new();
    for (t, text) in labels {
        let x = frame.x(*t);
        match placed.last_mut() {
            Some(last) if x < last.0 + 3.0 + text_width(last.1, 9.0) + 6.0 => last.1 = text,
            _ => placed.push((x, text)),
        }
    }
    for (x, text) in placed {
        if x + 3.0 + text_width(text, 9.0) > WIDTH {
            continue;
        }
        super::lanes::lane_label(scene, x + 3.0, y, text.to_string());
    }
}

/// The node lane of a zone's workers when they are summarised: the worst node's state (tainted, then
/// NotReady, then Ready) and the zone's ready pods in all. Returns the y below it.
pub(super) fn draw_zone_node_lane(
    scene: &mut Scene,
    o: &Outcome,
    frame: &Frame,
    objects: &NodeObjects,
    (zone, workers): (&str, &[usize]),
    y: f64,
) -> f64 {
    let states: Vec<&[(Nanos, Shade)]> = workers
        .iter()
        .map(|&n| objects.states[n].as_slice())
        .collect();
    let worst = merge_steps(&states, Shade::Empty, |s| {
        s.iter().copied().max().unwrap_or(Shade::Empty)
    });
    let pods: Vec<&[(Nanos, u32)]> = workers
        .iter()
        .map(|&n| objects.pods[n].as_slice())
        .collect();
    let total = merge_steps(&pods, 0, |p| p.iter().sum::<u32>());
    draw_node_lane(
        scene,
        o,
        frame,
        ("  nodes", format!("data-zone=\"{}\"", esc(zone))),
        &worst,
        &total,
        y,
    )
}

/// One band per workload: green while every replica is ready, yellow while some are, red while none
/// is, with `ready/replicas` written at each change. Returns the y below them.
pub(super) fn draw_workload_bands(
    scene: &mut Scene,
    o: &Outcome,
    frame: &Frame,
    mut y: f64,
) -> f64 {
    for (wi, w) in o.scenario.workloads.iter().enumerate() {
        let mut ready: Steps<u32> = Vec::new();
        for e in &o.trace.events {
            if let TraceKind::WorkloadReady {
                workload, ready: r, ..
            } = e.kind
            {
                if workload as usize == wi {
                    push_change(&mut ready, e.time_ns, r);
                }
            }
        }
        let shade = |r: u32| match r {
            0 => Shade::Down,
            r if r >= w.replicas => Shade::Up,
            _ => Shade::Unready,
        };
        let shades: Steps<Shade> = ready.iter().map(|&(t, r)| (t, shade(r))).collect();
        scene.text(
            22.0,
            y + LANE_H - 2.5,
            format!("pods {}", w.name),
            11.0,
            Anchor::Start,
        );
        scene.main.push(Prim::Open(format!(
            "class=\"band workload-pods\" data-workload=\"{}\" shape-rendering=\"crispEdges\"",
            esc(&w.name)
        )));
        scene.main.push(Prim::Title(format!(
            "workload {}: ready replicas of {} (green all, yellow some, red none)",
            w.name, w.replicas
        )));
        let cols = frame.columns(Shade::Down, &shades, o.end_ns);
        frame.draw_columns(scene, &cols, y, LANE_H, Shade::color);
        scene.main.push(Prim::Close);
        let labels: Vec<(Nanos, String)> = ready
            .iter()
            .map(|&(t, r)| (t, format!("{r}/{}", w.replicas)))
            .collect();
        draw_step_labels(scene, frame, &labels, y);
        y += LANE_H + LANE_GAP;
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_steps_change_only_when_the_combination_does() {
        let a: Steps<u32> = vec![(0, 2), (10, 0)];
        let b: Steps<u32> = vec![(5, 1), (10, 3)];
        // At 10 both change and the sum stays 3: no change recorded.
        assert_eq!(
            merge_steps(&[&a, &b], 0, |v| v.iter().sum::<u32>()),
            vec![(0, 2), (5, 3)]
        );
    }

    #[test]
    fn the_taint_outranks_the_condition() {
        assert_eq!(node_shade(Some(false), true), Shade::Tainted);
        assert_eq!(node_shade(Some(false), false), Shade::Unready);
        assert_eq!(node_shade(Some(true), false), Shade::Up);
        assert_eq!(node_shade(None, false), Shade::Empty);
        assert!(Shade::Tainted > Shade::Unready && Shade::Tainted < Shade::Down);
    }
}
