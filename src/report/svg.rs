//! The timeline picture of a run: time across; one lane per process grouped by node; one band per
//! capability; fault periods shaded across everything (as Jepsen shades its nemesis regions); etcd leader
//! elections marked with their term; and the API success ratio and latency percentiles under the bands.
//!
//! The picture is laid out once as a `Scene` of plain shapes, then written as SVG here (by hand: one
//! element per run of equal pixels, with identifying attributes such as `class="lane"
//! data-proc="cp-1/etcd"`, `class="band" data-cap="api"` and `class="fault" data-fault="0"`) or drawn
//! into a PNG by `report::png`. Intervals shorter than a pixel are aggregated: each pixel column of a
//! lane or band shows the worst state that occurred within it, so a 6-hour run draws as fast and as
//! legibly as a 10-minute one.

use crate::components::etcd::types::Role;
use crate::engine::{fmt_duration, Nanos, HOUR, MIN, MS, SEC};
use crate::observe::{ProcState, TraceKind};
use crate::report::text::fmt_num;
use crate::run::Outcome;
use std::collections::BTreeSet;
use std::fmt::Write;

/// An RGB colour.
pub(crate) type Rgb = (u8, u8, u8);

/// How a text is anchored horizontally at its `x`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Anchor {
    Start,
    Middle,
    End,
}

/// One drawing primitive. Coordinates are pixels from the top left; text `y` is the baseline.
#[derive(Clone, Debug)]
pub(crate) enum Prim {
    /// Opens a group (`<g ATTRS>`); the PNG ignores groups.
    Open(String),
    /// Closes the last group.
    Close,
    /// A tooltip for the enclosing group (SVG only).
    Title(String),
    /// A rectangle, filled or (with `stroke`) outlined.
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        fill: Option<Rgb>,
        opacity: f64,
        stroke: Option<Rgb>,
        title: Option<String>,
    },
    /// A straight line.
    Line {
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        color: Rgb,
        width: f64,
        opacity: f64,
    },
    /// An open polyline.
    Path {
        points: Vec<(f64, f64)>,
        color: Rgb,
        width: f64,
    },
    /// A filled polygon (markers).
    Polygon {
        points: Vec<(f64, f64)>,
        fill: Rgb,
        title: Option<String>,
    },
    /// A line of text.
    Text {
        x: f64,
        y: f64,
        text: String,
        size: f64,
        color: Rgb,
        anchor: Anchor,
        bold: bool,
    },
}

/// A laid-out picture: primitives in three layers (grid behind, shapes, overlays on top).
#[derive(Clone, Debug, Default)]
pub(crate) struct Scene {
    pub width: f64,
    pub height: f64,
    pub back: Vec<Prim>,
    pub main: Vec<Prim>,
    pub front: Vec<Prim>,
}

impl Scene {
    /// Every primitive in drawing order.
    pub fn prims(&self) -> impl Iterator<Item = &Prim> {
        self.back.iter().chain(&self.main).chain(&self.front)
    }

    fn text(&mut self, x: f64, y: f64, text: impl Into<String>, size: f64, anchor: Anchor) {
        self.main.push(Prim::Text {
            x,
            y,
            text: text.into(),
            size,
            color: INK,
            anchor,
            bold: false,
        });
    }

    fn bold(&mut self, x: f64, y: f64, text: impl Into<String>, size: f64) {
        self.main.push(Prim::Text {
            x,
            y,
            text: text.into(),
            size,
            color: INK,
            anchor: Anchor::Start,
            bold: true,
        });
    }

    fn fill(&mut self, x: f64, y: f64, w: f64, h: f64, fill: Rgb, title: Option<String>) {
        self.main.push(Prim::Rect {
            x,
            y,
            w,
            h,
            fill: Some(fill),
            opacity: 1.0,
            stroke: None,
            title,
        });
    }
}

/// The picture's width in pixels.
pub(crate) const WIDTH: f64 = 1400.0;
/// Where the plot starts (left of it: labels).
const X0: f64 = 210.0;
/// The plot's width in pixel columns.
const COLS: usize = 1170;
const LANE_H: f64 = 13.0;
const LANE_GAP: f64 = 3.0;
const NODE_H: f64 = 16.0;
const FAULT_ROW_H: f64 = 13.0;
const MAX_FAULT_ROWS: usize = 3;
const RATIO_H: f64 = 44.0;
const LAT_H: f64 = 64.0;

const INK: Rgb = (34, 34, 34);
const MUTED: Rgb = (110, 110, 110);
const GRID: Rgb = (225, 225, 225);
const C_LEADER: Rgb = (31, 82, 160);
const C_UP: Rgb = (76, 175, 80);
const C_STANDBY: Rgb = (143, 190, 230);
const C_UNREADY: Rgb = (240, 190, 40);
const C_DOWN: Rgb = (214, 39, 40);
const C_NODE_UP: Rgb = (200, 200, 200);
const C_FAULT: Rgb = (128, 64, 192);
const C_P50: Rgb = (31, 119, 180);
const C_P99: Rgb = (255, 127, 14);
const C_MARK: Rgb = (255, 215, 0);
const C_DIFF: Rgb = (255, 243, 196);

/// What a pixel column of a lane or band shows. Ordered from best to worst: a column shows the worst
/// state that occurred within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Shade {
    Empty,
    Leader,
    Up,
    Standby,
    Unready,
    Down,
}

impl Shade {
    fn of(s: ProcState) -> Shade {
        match s {
            ProcState::Up => Shade::Up,
            ProcState::Down => Shade::Down,
            ProcState::Unready => Shade::Unready,
            ProcState::Leader => Shade::Leader,
            ProcState::Standby => Shade::Standby,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Shade::Empty => "",
            Shade::Leader => "leader",
            Shade::Up => "up",
            Shade::Standby => "standby",
            Shade::Unready => "unready",
            Shade::Down => "down",
        }
    }

    fn color(self) -> Rgb {
        match self {
            Shade::Empty => (255, 255, 255),
            Shade::Leader => C_LEADER,
            Shade::Up => C_UP,
            Shade::Standby => C_STANDBY,
            Shade::Unready => C_UNREADY,
            Shade::Down => C_DOWN,
        }
    }
}

/// The time axis shared by everything drawn for one picture.
#[derive(Clone, Copy, Debug)]
struct Frame {
    /// The time at the right edge (at least 1).
    t_end: Nanos,
}

impl Frame {
    fn new(t_end: Nanos) -> Frame {
        Frame {
            t_end: t_end.max(1),
        }
    }

    fn x(&self, t: Nanos) -> f64 {
        X0 + (t.min(self.t_end) as f64 / self.t_end as f64) * COLS as f64
    }

    /// The time at the left edge of pixel column `c`.
    fn t_of_col(&self, c: usize) -> Nanos {
        (c as u128 * self.t_end as u128 / COLS as u128) as Nanos
    }

    /// Paints `[a, b)` into per-column worst shades.
    fn paint(&self, cols: &mut [Shade], a: Nanos, b: Nanos, s: Shade) {
        let b = b.min(self.t_end);
        if b <= a {
            return;
        }
        let n = COLS as u128;
        let end = self.t_end as u128;
        let ca = (a as u128 * n / end) as usize;
        let cb = ((b as u128 * n).div_ceil(end) as usize).clamp(ca + 1, COLS);
        for c in &mut cols[ca.min(COLS)..cb] {
            if s > *c {
                *c = s;
            }
        }
    }

    /// Per-column worst shades of a step function: `initial` from 0, then each `(time, shade)` change,
    /// until `until` (the run's end); columns after `until` stay empty.
    fn columns(&self, initial: Shade, changes: &[(Nanos, Shade)], until: Nanos) -> Vec<Shade> {
        let mut cols = vec![Shade::Empty; COLS];
        let (mut t0, mut s0) = (0, initial);
        for &(t, s) in changes {
            let t = t.min(until);
            self.paint(&mut cols, t0, t, s0);
            t0 = t;
            s0 = s;
        }
        self.paint(&mut cols, t0, until, s0);
        cols
    }

    /// Emits one rectangle per run of equal columns.
    fn draw_columns(
        &self,
        scene: &mut Scene,
        cols: &[Shade],
        y: f64,
        h: f64,
        color: impl Fn(Shade) -> Rgb,
    ) {
        let mut c = 0;
        while c < cols.len() {
            let s = cols[c];
            let mut e = c + 1;
            while e < cols.len() && cols[e] == s {
                e += 1;
            }
            if s != Shade::Empty {
                let title = format!(
                    "{} {} \u{2013} {}",
                    s.name(),
                    fmt_duration(self.t_of_col(c)),
                    fmt_duration(self.t_of_col(e))
                );
                scene.fill(X0 + c as f64, y, (e - c) as f64, h, color(s), Some(title));
            }
            c = e;
        }
    }
}

/// Chooses a round step so that `span` has at most `max_steps` of them.
fn nice_step(span: Nanos, max_steps: u64) -> Nanos {
    const STEPS: [Nanos; 22] = [
        MS,
        2 * MS,
        5 * MS,
        10 * MS,
        20 * MS,
        50 * MS,
        100 * MS,
        200 * MS,
        500 * MS,
        SEC,
        2 * SEC,
        5 * SEC,
        10 * SEC,
        15 * SEC,
        30 * SEC,
        MIN,
        2 * MIN,
        5 * MIN,
        10 * MIN,
        15 * MIN,
        30 * MIN,
        HOUR,
    ];
    for s in STEPS {
        if span / s <= max_steps {
            return s;
        }
    }
    let mut s = HOUR;
    while span / s > max_steps {
        s *= 2;
    }
    s
}

/// A rough text width for layout (DejaVu Sans averages a little under 0.6 em).
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.6
}

/// A fault as drawn: its actual start and end (from the trace when it fired).
struct FaultSpan {
    index: usize,
    start: Nanos,
    end: Option<Nanos>,
    label: String,
}

fn fault_spans(o: &Outcome) -> Vec<FaultSpan> {
    let mut starts: Vec<Option<Nanos>> = vec![None; o.faults.len()];
    let mut ends: Vec<Option<Nanos>> = vec![None; o.faults.len()];
    for e in &o.trace.events {
        if let TraceKind::Fault { index, start } = e.kind {
            let i = index as usize;
            if i < o.faults.len() {
                if start {
                    starts[i].get_or_insert(e.time_ns);
                } else {
                    ends[i] = Some(e.time_ns);
                }
            }
        }
    }
    o.faults
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let start = starts[i].unwrap_or(f.at_ns);
            if start > o.end_ns || (starts[i].is_none() && start == o.end_ns) {
                return None; // never fired
            }
            // Without `for`, a lasting fault (crash, partition, ...) holds to the end of the run; a
            // restart, wipe or restore is a moment and is drawn as a marker.
            let instant = f.spec.kind.is_instant();
            let end = ends[i]
                .or(f.end_ns.map(|e| e.min(o.end_ns)))
                .or((!instant).then_some(o.end_ns));
            Some(FaultSpan {
                index: i,
                start,
                end,
                label: format!("#{i} {}", f.describe()),
            })
        })
        .collect()
}

/// Places fault labels in rows so they do not overlap: `(fault, row, x, text)`.
fn place_fault_labels(
    frame: &Frame,
    spans: &[FaultSpan],
) -> (Vec<(usize, usize, f64, String)>, usize) {
    let mut row_end: Vec<f64> = Vec::new();
    let mut out = Vec::new();
    for (k, f) in spans.iter().enumerate() {
        let x = frame.x(f.start) + 2.0;
        let short = format!("#{}", f.index);
        for text in [f.label.clone(), short] {
            let w = text_width(&text, 10.0);
            let x = x.min(WIDTH - 4.0 - w).max(X0);
            let row = (0..MAX_FAULT_ROWS).find(|&r| row_end.get(r).is_none_or(|&e| e + 6.0 <= x));
            if let Some(r) = row {
                if r == row_end.len() {
                    row_end.push(0.0);
                }
                row_end[r] = x + w;
                out.push((k, r, x, text));
                break;
            }
        }
    }
    let rows = row_end.len();
    (out, rows)
}

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

/// Per-bucket API request statistics.
struct ApiBuckets {
    width: Nanos,
    /// (requests, ok, p50 ms of ok, p99 ms of ok)
    rows: Vec<(u64, u64, Option<f64>, Option<f64>)>,
}

fn api_buckets(o: &Outcome, t_end: Nanos) -> ApiBuckets {
    let width = nice_step(t_end, 300).max(1);
    let n = t_end.div_ceil(width).max(1) as usize;
    let mut count = vec![0u64; n];
    let mut ok = vec![0u64; n];
    let mut lat: Vec<Vec<Nanos>> = vec![Vec::new(); n];
    for r in &o.trace.requests {
        let b = ((r.sent_ns / width) as usize).min(n - 1);
        count[b] += 1;
        if r.ok {
            ok[b] += 1;
            lat[b].push(r.latency_ns);
        }
    }
    let pct = |v: &mut Vec<Nanos>, p: f64| -> Option<f64> {
        if v.is_empty() {
            return None;
        }
        // Same rank rule as the metrics (nearest rank).
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        let k = rank.clamp(1, v.len()) - 1;
        Some(*v.select_nth_unstable(k).1 as f64 / 1e6)
    };
    let rows = (0..n)
        .map(|b| {
            let p50 = pct(&mut lat[b], 50.0);
            let p99 = pct(&mut lat[b], 99.0);
            (count[b], ok[b], p50, p99)
        })
        .collect();
    ApiBuckets { width, rows }
}

fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{}s", fmt_num(ms / 1000.0))
    } else if ms >= 1.0 {
        format!("{}ms", fmt_num(ms))
    } else {
        format!("{}us", fmt_num(ms * 1000.0))
    }
}

/// Draws one run's timeline starting at `y0`; returns the y below it. `run` names the run in
/// comparisons (`data-run`).
fn draw_run(scene: &mut Scene, o: &Outcome, frame: &Frame, y0: f64, run: Option<&str>) -> f64 {
    let run_attr = run
        .map(|r| format!(" data-run=\"{}\"", esc(r)))
        .unwrap_or_default();
    scene
        .main
        .push(Prim::Open(format!("class=\"run\"{run_attr}")));
    let spans = fault_spans(o);
    let (labels, fault_rows) = place_fault_labels(frame, &spans);
    let mut y = y0 + fault_rows as f64 * FAULT_ROW_H;
    // Time axis labels at the top.
    let step = nice_step(frame.t_end, 12);
    let axis_labels = |scene: &mut Scene, y: f64| {
        let mut t = 0;
        while t <= frame.t_end {
            let x = frame.x(t);
            let anchor = if t == 0 {
                Anchor::Start
            } else {
                Anchor::Middle
            };
            if x + text_width(&fmt_duration(t), 10.0) / 2.0 <= WIDTH {
                scene.main.push(Prim::Text {
                    x,
                    y,
                    text: fmt_duration(t),
                    size: 10.0,
                    color: MUTED,
                    anchor,
                    bold: false,
                });
            }
            t += step;
        }
    };
    axis_labels(scene, y + 10.0);
    y += 14.0;
    let plot_top = y;

    // Lanes, grouped by node.
    let changes = lane_changes(o);
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
    for (ni, node) in o.layout.nodes.iter().enumerate() {
        let procs: Vec<usize> = (0..o.layout.procs.len())
            .filter(|&p| o.layout.procs[p].node == ni)
            .collect();
        // Node header: name, zone, and a thin bar that is grey while the node is up, red while down.
        let zone = o
            .layout
            .zones
            .get(node.zone)
            .map(String::as_str)
            .unwrap_or("?");
        scene.bold(10.0, y + 12.0, node.name.clone(), 11.0);
        scene.main.push(Prim::Text {
            x: 12.0 + text_width(&node.name, 11.0) + 4.0,
            y: y + 12.0,
            text: format!("zone {zone}"),
            size: 9.0,
            color: MUTED,
            anchor: Anchor::Start,
            bold: false,
        });
        scene.main.push(Prim::Open(format!(
            "class=\"node\" data-node=\"{}\" shape-rendering=\"crispEdges\"",
            esc(&node.name)
        )));
        scene.main.push(Prim::Title(format!("node {}", node.name)));
        let cols = frame.columns(Shade::Up, &node_changes[ni], o.end_ns);
        frame.draw_columns(scene, &cols, y + 7.0, 3.0, |s| {
            if s == Shade::Down {
                C_DOWN
            } else {
                C_NODE_UP
            }
        });
        scene.main.push(Prim::Close);
        y += NODE_H;
        for p in procs {
            let spec = &o.layout.procs[p];
            let short = spec
                .name
                .split_once('/')
                .map(|(_, b)| b)
                .unwrap_or(&spec.name);
            scene.text(22.0, y + LANE_H - 2.5, short, 11.0, Anchor::Start);
            scene.main.push(Prim::Open(format!(
                "class=\"lane\" data-proc=\"{}\" data-node=\"{}\" shape-rendering=\"crispEdges\"",
                esc(&spec.name),
                esc(&node.name)
            )));
            scene.main.push(Prim::Title(spec.name.clone()));
            let cols = frame.columns(Shade::Down, &changes[p], o.end_ns);
            frame.draw_columns(scene, &cols, y, LANE_H, Shade::color);
            scene.main.push(Prim::Close);
            // Leader elections: a marker at the top of the new leader's lane, with the term.
            let mut last_col = usize::MAX;
            let mut last_label = f64::NEG_INFINITY;
            for &(t, term) in &leader_marks[p] {
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
                        "{} became etcd leader at {} (term {term})",
                        spec.name,
                        fmt_duration(t)
                    )),
                });
                let label = format!("t{term}");
                if x - last_label >= 30.0 && x + 3.0 + text_width(&label, 9.0) <= WIDTH {
                    last_label = x;
                    scene.front.push(Prim::Text {
                        x: x + 4.0,
                        y: y + LANE_H - 3.0,
                        text: label,
                        size: 9.0,
                        color: (255, 255, 255),
                        anchor: Anchor::Start,
                        bold: true,
                    });
                }
            }
            y += LANE_H + LANE_GAP;
        }
    }

    // Capability bands.
    if !o.timelines.is_empty() {
        y += 4.0;
        scene.bold(10.0, y + 12.0, "capabilities", 11.0);
        y += NODE_H;
        for tl in &o.timelines {
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
            let cols = frame.columns(Shade::Down, &ch, o.end_ns);
            frame.draw_columns(scene, &cols, y, LANE_H, Shade::color);
            scene.main.push(Prim::Close);
            y += LANE_H + LANE_GAP;
        }
    }

    // The API chart: success ratio bars and latency percentiles per time bucket.
    if !o.trace.requests.is_empty() {
        let api = api_buckets(o, frame.t_end);
        let per = fmt_duration(api.width);
        y += 8.0;
        scene.bold(10.0, y + 12.0, "API success", 11.0);
        scene.main.push(Prim::Text {
            x: 10.0,
            y: y + 24.0,
            text: format!("per {per}"),
            size: 9.0,
            color: MUTED,
            anchor: Anchor::Start,
            bold: false,
        });
        let top = y;
        scene.main.push(Prim::Open(
            "class=\"chart\" data-chart=\"success\" shape-rendering=\"crispEdges\"".into(),
        ));
        for (b, &(n, ok, _, _)) in api.rows.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let x1 = frame.x(b as Nanos * api.width).round();
            let x2 = frame.x((b as Nanos + 1) * api.width).round();
            let frac = ok as f64 / n as f64;
            // Any failure shows: at least two pixels of red.
            let h_ok = if ok < n {
                (RATIO_H * frac).min(RATIO_H - 2.0)
            } else {
                RATIO_H
            };
            let title = Some(format!(
                "{} \u{2013} {}: {ok} of {n} requests ok ({}%)",
                fmt_duration(b as Nanos * api.width),
                fmt_duration((b as Nanos + 1) * api.width),
                fmt_num((frac * 1000.0).round() / 10.0)
            ));
            if ok < n {
                scene.fill(
                    x1,
                    top,
                    (x2 - x1).max(1.0),
                    RATIO_H - h_ok,
                    C_DOWN,
                    title.clone(),
                );
            }
            if ok > 0 {
                scene.fill(
                    x1,
                    top + RATIO_H - h_ok,
                    (x2 - x1).max(1.0),
                    h_ok,
                    C_UP,
                    title,
                );
            }
        }
        scene.main.push(Prim::Close);
        for (v, label) in [(0.0, "0%"), (1.0, "100%")] {
            let yy = top + RATIO_H * (1.0 - v);
            scene.back.push(Prim::Line {
                x1: X0,
                y1: yy,
                x2: X0 + COLS as f64,
                y2: yy,
                color: GRID,
                width: 1.0,
                opacity: 1.0,
            });
            scene.main.push(Prim::Text {
                x: X0 - 4.0,
                y: yy + 3.5,
                text: label.into(),
                size: 9.0,
                color: MUTED,
                anchor: Anchor::End,
                bold: false,
            });
        }
        y += RATIO_H + 10.0;

        // Latency: p50 and p99 of successful requests on a log scale.
        let vals: Vec<f64> = api
            .rows
            .iter()
            .flat_map(|r| [r.2, r.3])
            .flatten()
            .filter(|v| *v > 0.0)
            .collect();
        scene.bold(10.0, y + 12.0, "API latency", 11.0);
        scene.main.push(Prim::Text {
            x: 10.0,
            y: y + 24.0,
            text: "p50 and p99 of ok requests".into(),
            size: 9.0,
            color: MUTED,
            anchor: Anchor::Start,
            bold: false,
        });
        if !vals.is_empty() {
            let lo = vals.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = vals.iter().cloned().fold(0.0, f64::max);
            let d_lo = lo.log10().floor();
            let mut d_hi = hi.log10().ceil();
            if d_hi <= d_lo {
                d_hi = d_lo + 1.0;
            }
            let yv = |ms: f64| y + LAT_H * (1.0 - (ms.log10() - d_lo) / (d_hi - d_lo));
            let mut d = d_lo;
            while d <= d_hi + 1e-9 {
                let yy = yv(10f64.powf(d));
                scene.back.push(Prim::Line {
                    x1: X0,
                    y1: yy,
                    x2: X0 + COLS as f64,
                    y2: yy,
                    color: GRID,
                    width: 1.0,
                    opacity: 1.0,
                });
                scene.main.push(Prim::Text {
                    x: X0 - 4.0,
                    y: yy + 3.5,
                    text: fmt_ms(10f64.powf(d)),
                    size: 9.0,
                    color: MUTED,
                    anchor: Anchor::End,
                    bold: false,
                });
                d += 1.0;
            }
            for (which, color, name) in [(2usize, C_P50, "p50"), (3usize, C_P99, "p99")] {
                scene.main.push(Prim::Open(format!(
                    "class=\"chart\" data-chart=\"latency-{name}\""
                )));
                let mut pts: Vec<(f64, f64)> = Vec::new();
                let flush = |pts: &mut Vec<(f64, f64)>, scene: &mut Scene| {
                    if pts.len() >= 2 {
                        scene.main.push(Prim::Path {
                            points: std::mem::take(pts),
                            color,
                            width: 1.5,
                        });
                    }
                    pts.clear();
                };
                for (b, r) in api.rows.iter().enumerate() {
                    let v = if which == 2 { r.2 } else { r.3 };
                    match v {
                        Some(ms) if ms > 0.0 => {
                            let yy = yv(ms);
                            let x1 = frame.x(b as Nanos * api.width);
                            let x2 = frame.x((b as Nanos + 1) * api.width);
                            pts.push((x1, yy));
                            pts.push((x2, yy));
                        }
                        _ => flush(&mut pts, scene),
                    }
                }
                flush(&mut pts, scene);
                scene.main.push(Prim::Close);
            }
        }
        y += LAT_H + 4.0;
    }
    let plot_bottom = y;

    // Grid lines at the axis ticks, behind everything.
    let mut t = 0;
    while t <= frame.t_end {
        let x = frame.x(t);
        scene.back.push(Prim::Line {
            x1: x,
            y1: plot_top - 3.0,
            x2: x,
            y2: plot_bottom,
            color: GRID,
            width: 1.0,
            opacity: 1.0,
        });
        t += step;
    }
    axis_labels(scene, y + 11.0);
    y += 16.0;

    // Invariant violations: red ticks on the top axis.
    let mut seen_cols = BTreeSet::new();
    for e in &o.trace.events {
        if let TraceKind::Violation { text } = &e.kind {
            let x = frame.x(e.time_ns);
            if seen_cols.insert(x as usize) {
                scene.front.push(Prim::Polygon {
                    points: vec![
                        (x - 4.0, plot_top - 8.0),
                        (x + 4.0, plot_top - 8.0),
                        (x, plot_top),
                    ],
                    fill: C_DOWN,
                    title: Some(format!(
                        "invariant violated at {}: {text}",
                        fmt_duration(e.time_ns)
                    )),
                });
            }
        }
    }

    // Faults: shaded across every lane, band and chart, labelled above.
    let label_of: Vec<Option<&(usize, usize, f64, String)>> = (0..spans.len())
        .map(|k| labels.iter().find(|l| l.0 == k))
        .collect();
    for f in &spans {
        let x1 = frame.x(f.start);
        let x2 = f.end.map(|e| frame.x(e)).unwrap_or(x1).max(x1 + 3.0);
        let desc = o.faults[f.index].describe();
        let when = match f.end {
            Some(e) => format!("{} \u{2013} {}", fmt_duration(f.start), fmt_duration(e)),
            None => format!("at {}", fmt_duration(f.start)),
        };
        scene.front.push(Prim::Open(format!(
            "class=\"fault\" data-fault=\"{}\"{run_attr}",
            f.index
        )));
        scene
            .front
            .push(Prim::Title(format!("fault #{} {desc} ({when})", f.index)));
        scene.front.push(Prim::Rect {
            x: x1,
            y: y0,
            w: x2 - x1,
            h: plot_bottom - y0,
            fill: Some(C_FAULT),
            opacity: 0.18,
            stroke: None,
            title: None,
        });
        // Edges only above the lanes: over them they would hide a one-pixel outage at the fault's start.
        for x in [x1, x2] {
            scene.front.push(Prim::Line {
                x1: x,
                y1: y0,
                x2: x,
                y2: plot_top,
                color: C_FAULT,
                width: 1.0,
                opacity: 0.8,
            });
        }
        scene.front.push(Prim::Close);
    }
    // Labels after every shading, so that no fault's edge crosses another's label.
    for (k, f) in spans.iter().enumerate() {
        let Some((_, row, lx, text)) = label_of[k] else {
            continue;
        };
        scene.front.push(Prim::Open(format!(
            "class=\"fault-label\" data-fault=\"{}\"{run_attr}",
            f.index
        )));
        scene.front.push(Prim::Title(o.faults[f.index].describe()));
        let ly = y0 + *row as f64 * FAULT_ROW_H;
        scene.front.push(Prim::Rect {
            x: *lx - 1.0,
            y: ly + 1.0,
            w: text_width(text, 10.0) + 2.0,
            h: FAULT_ROW_H - 1.0,
            fill: Some((255, 255, 255)),
            opacity: 0.85,
            stroke: None,
            title: None,
        });
        scene.front.push(Prim::Text {
            x: *lx,
            y: ly + 10.0,
            text: text.clone(),
            size: 10.0,
            color: C_FAULT,
            anchor: Anchor::Start,
            bold: false,
        });
        scene.front.push(Prim::Close);
    }
    scene.main.push(Prim::Close);
    y
}

/// The legend under the picture; returns the y below it.
fn draw_legend(scene: &mut Scene, frame: &Frame, y0: f64, with_api: bool) -> f64 {
    let mut x = 10.0;
    let y = y0 + 4.0;
    scene.main.push(Prim::Open("class=\"legend\"".into()));
    let item = |scene: &mut Scene, x: &mut f64, swatch: &dyn Fn(&mut Scene, f64), label: &str| {
        swatch(scene, *x);
        scene.text(*x + 18.0, y + 10.0, label, 10.0, Anchor::Start);
        *x += 18.0 + text_width(label, 10.0) + 14.0;
    };
    for s in [
        Shade::Up,
        Shade::Leader,
        Shade::Standby,
        Shade::Unready,
        Shade::Down,
    ] {
        item(
            scene,
            &mut x,
            &|sc: &mut Scene, x| sc.fill(x, y + 1.0, 14.0, 10.0, s.color(), None),
            s.name(),
        );
    }
    item(
        scene,
        &mut x,
        &|sc: &mut Scene, x| {
            sc.main.push(Prim::Rect {
                x,
                y: y + 1.0,
                w: 14.0,
                h: 10.0,
                fill: Some(C_FAULT),
                opacity: 0.3,
                stroke: None,
                title: None,
            })
        },
        "fault",
    );
    item(
        scene,
        &mut x,
        &|sc: &mut Scene, x| {
            sc.fill(x, y + 1.0, 14.0, 10.0, C_LEADER, None);
            sc.main.push(Prim::Polygon {
                points: vec![(x + 3.5, y + 1.0), (x + 10.5, y + 1.0), (x + 7.0, y + 6.0)],
                fill: C_MARK,
                title: None,
            });
        },
        "etcd leader elected (tN: term)",
    );
    if with_api {
        item(
            scene,
            &mut x,
            &|sc: &mut Scene, x| {
                sc.fill(x, y + 1.0, 14.0, 5.0, C_DOWN, None);
                sc.fill(x, y + 6.0, 14.0, 5.0, C_UP, None);
            },
            "requests ok / failed",
        );
        for (c, l) in [(C_P50, "p50"), (C_P99, "p99")] {
            item(
                scene,
                &mut x,
                &|sc: &mut Scene, x| {
                    sc.main.push(Prim::Line {
                        x1: x,
                        y1: y + 6.0,
                        x2: x + 14.0,
                        y2: y + 6.0,
                        color: c,
                        width: 2.0,
                        opacity: 1.0,
                    })
                },
                l,
            );
        }
    }
    let px = frame.t_end as f64 / COLS as f64;
    scene.main.push(Prim::Text {
        x: 10.0,
        y: y + 26.0,
        text: format!(
            "Lanes start down until the process first starts. Node bars: grey up, red down. One pixel is {}; \
             a pixel column shows the worst state within it (down > unready > standby > up > leader).",
            fmt_duration(px.round().max(1.0) as Nanos)
        ),
        size: 10.0,
        color: MUTED,
        anchor: Anchor::Start,
        bold: false,
    });
    scene.main.push(Prim::Close);
    y + 34.0
}

fn header(scene: &mut Scene, o: &Outcome, y: f64) -> f64 {
    let verdict = if o.verdicts.is_empty() {
        String::new()
    } else if o.passed() {
        "  \u{2014}  PASS".into()
    } else {
        "  \u{2014}  FAIL".into()
    };
    scene.bold(
        10.0,
        y + 18.0,
        format!("{}{verdict}", o.scenario.name),
        16.0,
    );
    let mut meta = format!(
        "seed {}  \u{00b7}  {} simulated  \u{00b7}  {} events",
        o.seed,
        fmt_duration(o.end_ns),
        o.events
    );
    match o.warmup_ns {
        Some(w) => {
            let _ = write!(meta, "  \u{00b7}  steady state after {}", fmt_duration(w));
        }
        None => meta.push_str("  \u{00b7}  never reached steady state"),
    }
    let _ = write!(
        meta,
        "  \u{00b7}  {} fault{}",
        o.faults.len(),
        if o.faults.len() == 1 { "" } else { "s" }
    );
    scene.text(10.0, y + 34.0, meta, 11.0, Anchor::Start);
    y + 44.0
}

/// Lays out the timeline of one run.
pub(crate) fn scene(o: &Outcome) -> Scene {
    let mut scene = Scene {
        width: WIDTH,
        ..Scene::default()
    };
    let frame = Frame::new(o.end_ns);
    let y = header(&mut scene, o, 0.0);
    let y = draw_run(&mut scene, o, &frame, y + 4.0, None);
    let y = draw_legend(&mut scene, &frame, y, !o.trace.requests.is_empty());
    scene.height = y.ceil();
    scene
}

/// Renders the timeline of a run as a standalone SVG document (no XML declaration, so it can also be
/// inlined in HTML).
pub fn render_svg(o: &Outcome) -> String {
    to_svg(&scene(o))
}

/// Lays out two runs on one time axis with a metrics table comparing them.
pub(crate) fn compare_scene(a: &Outcome, b: &Outcome, label_a: &str, label_b: &str) -> Scene {
    let mut scene = Scene {
        width: WIDTH,
        ..Scene::default()
    };
    let frame = Frame::new(a.end_ns.max(b.end_ns));
    scene.bold(
        10.0,
        20.0,
        format!("compare: {label_a}  vs  {label_b}"),
        16.0,
    );
    let mut y = 30.0;
    for (o, label, id) in [(a, label_a, "a"), (b, label_b, "b")] {
        y += 8.0;
        scene.main.push(Prim::Rect {
            x: 0.0,
            y,
            w: WIDTH,
            h: 20.0,
            fill: Some((240, 240, 240)),
            opacity: 1.0,
            stroke: None,
            title: None,
        });
        let verdict = if o.verdicts.is_empty() {
            ""
        } else if o.passed() {
            " \u{2014} PASS"
        } else {
            " \u{2014} FAIL"
        };
        scene.bold(
            10.0,
            y + 14.0,
            format!(
                "{}: {label}  ({}, seed {}, {}){verdict}",
                id.to_uppercase(),
                o.scenario.name,
                o.seed,
                fmt_duration(o.end_ns)
            ),
            12.0,
        );
        y = draw_run(&mut scene, o, &frame, y + 26.0, Some(id));
    }
    y = draw_legend(
        &mut scene,
        &frame,
        y,
        !a.trace.requests.is_empty() || !b.trace.requests.is_empty(),
    );

    // The metrics side by side; rows that differ are highlighted.
    y += 10.0;
    let cols = [10.0, 380.0, 560.0, 740.0];
    scene.bold(cols[0], y + 12.0, "metric", 11.0);
    scene.bold(cols[1], y + 12.0, format!("A: {label_a}"), 11.0);
    scene.bold(cols[2], y + 12.0, format!("B: {label_b}"), 11.0);
    scene.bold(cols[3], y + 12.0, "B \u{2212} A", 11.0);
    y += 18.0;
    let names: BTreeSet<&String> = a.metrics.keys().chain(b.metrics.keys()).collect();
    let verdict = |o: &Outcome| {
        if o.verdicts.is_empty() {
            "(no expectations)".to_string()
        } else if o.passed() {
            "PASS".to_string()
        } else {
            "FAIL".to_string()
        }
    };
    let mut rows: Vec<(String, String, String, String, bool)> = vec![(
        "result".into(),
        verdict(a),
        verdict(b),
        String::new(),
        verdict(a) != verdict(b),
    )];
    for name in names {
        let va = a.metrics.get(name).copied();
        let vb = b.metrics.get(name).copied();
        let show = |v: Option<f64>| v.map(fmt_num).unwrap_or_else(|| "\u{2014}".into());
        let (delta, differs) = match (va, vb) {
            (Some(x), Some(y)) => {
                let d = y - x;
                let differs = d.abs() > 1e-9 * x.abs().max(y.abs()).max(1.0);
                (
                    if differs {
                        format!("{}{}", if d > 0.0 { "+" } else { "" }, fmt_num(d))
                    } else {
                        String::new()
                    },
                    differs,
                )
            }
            (None, None) => (String::new(), false),
            _ => ("only in one".into(), true),
        };
        rows.push((name.clone(), show(va), show(vb), delta, differs));
    }
    for (name, va, vb, delta, differs) in rows {
        scene.main.push(Prim::Open(format!(
            "class=\"metric{}\" data-metric=\"{}\"",
            if differs { " diff" } else { "" },
            esc(&name)
        )));
        if differs {
            scene.fill(4.0, y, 900.0, 16.0, C_DIFF, None);
        }
        scene.text(cols[0], y + 12.0, name, 11.0, Anchor::Start);
        scene.text(cols[1], y + 12.0, va, 11.0, Anchor::Start);
        scene.text(cols[2], y + 12.0, vb, 11.0, Anchor::Start);
        scene.text(cols[3], y + 12.0, delta, 11.0, Anchor::Start);
        scene.main.push(Prim::Close);
        y += 16.0;
    }
    scene.height = (y + 10.0).ceil();
    scene
}

/// Renders two runs stacked on one time axis (A above B) with a side-by-side metrics table whose
/// differing rows are highlighted (`class="metric diff"`), as an SVG document.
pub fn render_compare_svg(a: &Outcome, b: &Outcome, label_a: &str, label_b: &str) -> String {
    to_svg(&compare_scene(a, b, label_a, label_b))
}

/// Escapes text for XML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate with at most two decimals and no trailing zeros.
fn num(v: f64) -> String {
    let r = (v * 100.0).round() / 100.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        let s = format!("{r:.2}");
        s.trim_end_matches('0').to_string()
    }
}

fn hex(c: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// Writes a scene as SVG.
pub(crate) fn to_svg(scene: &Scene) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"kube-ha-sim-timeline\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\" font-size=\"11\" \
         fill=\"{ink}\">",
        w = num(scene.width),
        h = num(scene.height),
        ink = hex(INK)
    );
    let _ = writeln!(
        s,
        "<rect class=\"background\" x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
        num(scene.width),
        num(scene.height)
    );
    for p in scene.prims() {
        match p {
            Prim::Open(attrs) => {
                let _ = writeln!(s, "<g {attrs}>");
            }
            Prim::Close => s.push_str("</g>\n"),
            Prim::Title(t) => {
                let _ = writeln!(s, "<title>{}</title>", esc(t));
            }
            Prim::Rect {
                x,
                y,
                w,
                h,
                fill,
                opacity,
                stroke,
                title,
            } => {
                let _ = write!(
                    s,
                    "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"",
                    num(*x),
                    num(*y),
                    num(*w),
                    num(*h)
                );
                match fill {
                    Some(c) => {
                        let _ = write!(s, " fill=\"{}\"", hex(*c));
                    }
                    None => s.push_str(" fill=\"none\""),
                }
                if *opacity < 1.0 {
                    let _ = write!(s, " fill-opacity=\"{}\"", num(*opacity));
                }
                if let Some(c) = stroke {
                    let _ = write!(s, " stroke=\"{}\"", hex(*c));
                }
                match title {
                    Some(t) => {
                        let _ = writeln!(s, "><title>{}</title></rect>", esc(t));
                    }
                    None => s.push_str("/>\n"),
                }
            }
            Prim::Line {
                x1,
                y1,
                x2,
                y2,
                color,
                width,
                opacity,
            } => {
                let _ = write!(
                    s,
                    "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\"",
                    num(*x1),
                    num(*y1),
                    num(*x2),
                    num(*y2),
                    hex(*color),
                    num(*width)
                );
                if *opacity < 1.0 {
                    let _ = write!(s, " stroke-opacity=\"{}\"", num(*opacity));
                }
                s.push_str("/>\n");
            }
            Prim::Path {
                points,
                color,
                width,
            } => {
                s.push_str("<polyline fill=\"none\" points=\"");
                for (i, (x, y)) in points.iter().enumerate() {
                    if i > 0 {
                        s.push(' ');
                    }
                    let _ = write!(s, "{},{}", num(*x), num(*y));
                }
                let _ = writeln!(
                    s,
                    "\" stroke=\"{}\" stroke-width=\"{}\" stroke-linejoin=\"round\"/>",
                    hex(*color),
                    num(*width)
                );
            }
            Prim::Polygon {
                points,
                fill,
                title,
            } => {
                s.push_str("<polygon class=\"marker\" points=\"");
                for (i, (x, y)) in points.iter().enumerate() {
                    if i > 0 {
                        s.push(' ');
                    }
                    let _ = write!(s, "{},{}", num(*x), num(*y));
                }
                let _ = write!(
                    s,
                    "\" fill=\"{}\" stroke=\"#333333\" stroke-width=\"0.6\"",
                    hex(*fill)
                );
                match title {
                    Some(t) => {
                        let _ = writeln!(s, "><title>{}</title></polygon>", esc(t));
                    }
                    None => s.push_str("/>\n"),
                }
            }
            Prim::Text {
                x,
                y,
                text,
                size,
                color,
                anchor,
                bold,
            } => {
                let _ = write!(s, "<text x=\"{}\" y=\"{}\"", num(*x), num(*y));
                if *size != 11.0 {
                    let _ = write!(s, " font-size=\"{}\"", num(*size));
                }
                if *color != INK {
                    let _ = write!(s, " fill=\"{}\"", hex(*color));
                }
                match anchor {
                    Anchor::Start => {}
                    Anchor::Middle => s.push_str(" text-anchor=\"middle\""),
                    Anchor::End => s.push_str(" text-anchor=\"end\""),
                }
                if *bold {
                    s.push_str(" font-weight=\"bold\"");
                }
                let _ = writeln!(s, ">{}</text>", esc(text));
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_show_the_worst_state_within_a_pixel() {
        let f = Frame::new(COLS as Nanos * 10);
        // Down for 1 ns inside column 5, which is otherwise up.
        let cols = f.columns(
            Shade::Down,
            &[(0, Shade::Up), (55, Shade::Down), (56, Shade::Up)],
            f.t_end,
        );
        assert_eq!(cols[4], Shade::Up);
        assert_eq!(cols[5], Shade::Down);
        assert_eq!(cols[6], Shade::Up);
        assert_eq!(cols[COLS - 1], Shade::Up);
    }

    #[test]
    fn nice_steps_are_round() {
        assert_eq!(nice_step(2 * MIN, 12), 10 * SEC);
        assert_eq!(nice_step(6 * HOUR, 12), 30 * MIN);
        assert_eq!(nice_step(10 * MIN, 12), MIN);
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
