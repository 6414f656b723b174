//! One run's timeline, top to bottom: fault labels, the time axis, the lanes, the capability bands, the
//! API charts, the time axis again; then the overlays (invariant violations, fault shading and labels).

use super::api::draw_api;
use super::faults::{
    draw_fault_labels, draw_fault_shading, draw_violations, fault_spans, place_fault_labels,
    FaultArea,
};
use super::frame::{nice_step, Frame};
use super::lanes::{draw_bands, draw_lanes};
use super::scene::{Anchor, Prim, Scene};
use super::style::FAULT_ROW_H;
use super::write::esc;
use crate::engine::fmt_duration;
use crate::run::Outcome;
use std::fmt::Write;

/// The title block of a single-run picture: the scenario's name and verdict, then the seed, simulated
/// time, events, steady state and fault count. Returns the y below it.
pub(super) fn header(scene: &mut Scene, o: &Outcome, y: f64) -> f64 {
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

/// Draws one run's timeline starting at `y0`; returns the y below it. `run` names the run in
/// comparisons (`data-run`). The overlays are drawn last so that they sit on top of everything they
/// span; the fault label rows come first because their number sets where the lanes start.
pub(super) fn draw_run(
    scene: &mut Scene,
    o: &Outcome,
    frame: &Frame,
    y0: f64,
    run: Option<&str>,
) -> f64 {
    let run_attr = run
        .map(|r| format!(" data-run=\"{}\"", esc(r)))
        .unwrap_or_default();
    scene
        .main
        .push(Prim::Open(format!("class=\"run\"{run_attr}")));
    let spans = fault_spans(o);
    let (labels, fault_rows) = place_fault_labels(frame, &spans);
    let mut y = y0 + fault_rows as f64 * FAULT_ROW_H;
    let step = nice_step(frame.t_end, 12);
    frame.axis_labels(scene, y + 10.0, step);
    y += 14.0;
    let plot_top = y;
    y = draw_lanes(scene, o, frame, y);
    y = draw_bands(scene, o, frame, y);
    y = super::alerts::draw_alerts(scene, o, frame, y);
    if !o.trace.requests.is_empty() {
        y = draw_api(scene, o, frame, y);
    }
    let plot_bottom = y;
    frame.grid_lines(scene, plot_top - 3.0, plot_bottom, step);
    frame.axis_labels(scene, y + 11.0, step);
    y += 16.0;
    draw_violations(scene, o, frame, plot_top);
    let area = FaultArea {
        top: y0,
        plot_top,
        bottom: plot_bottom,
        run_attr: &run_attr,
    };
    draw_fault_shading(scene, o, frame, &spans, &area);
    draw_fault_labels(scene, o, &spans, &labels, &area);
    scene.main.push(Prim::Close);
    y
}
