//! The timeline picture of a run: time across; one lane per process grouped by node, with a lane for
//! the node's Node object (Ready, NotReady/Unknown, tainted; ready pods); one band per capability, the
//! VIP holder and each workload's ready replicas; fault periods shaded across everything (as Jepsen shades its nemesis regions); etcd leader
//! elections marked with their term; and the API success ratio and latency percentiles under the bands.
//!
//! The picture is laid out once as a `Scene` of plain shapes, then written as SVG (by hand: one
//! element per run of equal pixels, with identifying attributes such as `class="lane"
//! data-proc="cp-1/etcd"`, `class="node-lane node-state" data-node="worker-1"`, `class="band" data-cap="api"` and `class="fault" data-fault="0"`) or drawn
//! into a PNG by `report::png`. Intervals shorter than a pixel are aggregated: each pixel column of a
//! lane or band shows the worst state that occurred within it, so a 6-hour run draws as fast and as
//! legibly as a 10-minute one.
//!
//! The files, in the order a picture is built:
//! - `scene`: the shapes (`Scene`, `Prim`) that the SVG writer and the PNG renderer share;
//! - `style`: geometry and palette;
//! - `frame`: the time axis (where a time falls, tick steps, tick labels, grid lines);
//! - `columns`: per-pixel-column worst states (`Shade`) and drawing them as runs of rectangles;
//! - `timeline`: one run's picture, top to bottom, calling `lanes` (processes, nodes, elections,
//!   capability bands; the node lanes and workload bands from `nodes`), `api` (success and latency charts) and `faults` (fault shading and labels,
//!   invariant violations);
//! - `legend`, and `compare` (the title bars and the metrics table of a comparison);
//! - `write`: the scene as SVG text.

mod alerts;
mod api;
mod columns;
mod compare;
mod faults;
mod frame;
mod lanes;
mod legend;
mod nodes;
mod scene;
mod style;
mod timeline;
mod write;

pub(crate) use scene::{Anchor, Prim, Rgb, Scene};
pub(crate) use write::{esc, to_svg};

use crate::run::Outcome;
use frame::Frame;
use legend::{draw_legend, LegendItems};
use style::WIDTH;
use timeline::{draw_run, header};

/// Lays out the timeline of one run.
pub(crate) fn scene(o: &Outcome) -> Scene {
    let mut scene = Scene {
        width: WIDTH,
        ..Scene::default()
    };
    let frame = Frame::new(o.end_ns);
    let y = header(&mut scene, o, 0.0);
    let y = draw_run(&mut scene, o, &frame, y + 4.0, None);
    let y = draw_legend(&mut scene, &frame, y, LegendItems::of(o));
    scene.height = y.ceil();
    scene
}

/// Where time runs on the timeline picture, in its own coordinates: the x of time 0, the width of
/// the time axis in pixel columns, and the picture's width (the page's time scrubber maps a click
/// to a time with them).
pub fn time_axis() -> (f64, usize, f64) {
    (style::X0, style::COLS, style::WIDTH)
}

/// Renders the timeline of a run as a standalone SVG document (no XML declaration, so it can also be
/// inlined in HTML).
pub fn render_svg(o: &Outcome) -> String {
    to_svg(&scene(o))
}

/// Lays out runs on one time axis (A above B above C..., each under a title bar) with a metrics table
/// comparing them.
pub(crate) fn compare_scene(runs: &[(&Outcome, &str)]) -> Scene {
    let mut scene = Scene {
        width: WIDTH,
        ..Scene::default()
    };
    let end = runs.iter().map(|(o, _)| o.end_ns).max().unwrap_or(0);
    let frame = Frame::new(end);
    let labels: Vec<&str> = runs.iter().map(|(_, l)| *l).collect();
    scene.bold(
        10.0,
        20.0,
        format!("compare: {}", labels.join("  vs  ")),
        16.0,
    );
    let mut y = 30.0;
    for (i, (o, label)) in runs.iter().enumerate() {
        let id = compare::run_id(i);
        y += 8.0;
        compare::draw_run_title(&mut scene, o, label, &id, y);
        y = draw_run(&mut scene, o, &frame, y + 26.0, Some(&id));
    }
    let items = runs.iter().fold(LegendItems::default(), |acc, (o, _)| {
        acc.or(LegendItems::of(o))
    });
    y = draw_legend(&mut scene, &frame, y, items);
    y = compare::draw_metrics_table(&mut scene, runs, y);
    scene.height = (y + 10.0).ceil();
    scene
}

/// Renders runs stacked on one time axis with a side-by-side metrics table whose differing rows are
/// highlighted (`class="metric diff"`), as an SVG document.
pub fn render_compare_svg(runs: &[(&Outcome, &str)]) -> String {
    to_svg(&compare_scene(runs))
}
