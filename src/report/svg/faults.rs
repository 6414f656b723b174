//! What went wrong, drawn over the lanes: fault periods shaded across every lane, band and chart (as
//! Jepsen shades its nemesis regions) and labelled above them without overlaps, and invariant
//! violations ticked on the top axis.

use super::frame::Frame;
use super::scene::{Anchor, Prim, Scene};
use super::style::{text_width, C_DOWN, C_FAULT, FAULT_ROW_H, MAX_FAULT_ROWS, WIDTH, X0};
use crate::engine::{fmt_duration, Nanos};
use crate::observe::TraceKind;
use crate::run::Outcome;
use std::collections::BTreeSet;

/// A fault as drawn: its actual start and end (from the trace when it fired).
pub(super) struct FaultSpan {
    index: usize,
    start: Nanos,
    end: Option<Nanos>,
    label: String,
}

/// The faults that fired, with the times the trace gives them (falling back to the plan's times), in
/// the scenario's order.
pub(super) fn fault_spans(o: &Outcome) -> Vec<FaultSpan> {
    let (starts, ends) = fault_times(o);
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
            let instant = !f.kind().lasts();
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

/// Per fault, the first start and the last end the trace records, if any.
fn fault_times(o: &Outcome) -> (Vec<Option<Nanos>>, Vec<Option<Nanos>>) {
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
    (starts, ends)
}

/// A fault's label as placed: which span (index into the spans), which row above the lanes, where.
pub(super) struct FaultLabel {
    span: usize,
    row: usize,
    x: f64,
    text: String,
}

/// Places fault labels in rows so they do not overlap: the full label where it fits, else `#N`, else
/// none (the tooltip remains). Returns the labels, in span order, and the number of rows used.
pub(super) fn place_fault_labels(frame: &Frame, spans: &[FaultSpan]) -> (Vec<FaultLabel>, usize) {
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
                out.push(FaultLabel {
                    span: k,
                    row: r,
                    x,
                    text,
                });
                break;
            }
        }
    }
    let rows = row_end.len();
    (out, rows)
}

/// Invariant violations: red ticks on the top axis (at most one per pixel column), each with the
/// violation in its tooltip.
pub(super) fn draw_violations(scene: &mut Scene, o: &Outcome, frame: &Frame, plot_top: f64) {
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
}

/// Where the faults are drawn: from `top` (the first label row) to `bottom` (under the charts), with
/// edges only down to `plot_top` (the top of the lanes).
pub(super) struct FaultArea<'a> {
    pub(super) top: f64,
    pub(super) plot_top: f64,
    pub(super) bottom: f64,
    /// ` data-run="..."` in comparisons, else empty.
    pub(super) run_attr: &'a str,
}

/// Faults: shaded across every lane, band and chart, each in a group (`class="fault"`) whose tooltip
/// says what it was and when.
pub(super) fn draw_fault_shading(
    scene: &mut Scene,
    o: &Outcome,
    frame: &Frame,
    spans: &[FaultSpan],
    area: &FaultArea,
) {
    for f in spans {
        let x1 = frame.x(f.start);
        let x2 = f.end.map(|e| frame.x(e)).unwrap_or(x1).max(x1 + 3.0);
        let desc = o.faults[f.index].describe();
        let when = match f.end {
            Some(e) => format!("{} \u{2013} {}", fmt_duration(f.start), fmt_duration(e)),
            None => format!("at {}", fmt_duration(f.start)),
        };
        scene.front.push(Prim::Open(format!(
            "class=\"fault\" data-fault=\"{}\"{}",
            f.index, area.run_attr
        )));
        scene
            .front
            .push(Prim::Title(format!("fault #{} {desc} ({when})", f.index)));
        scene.front.push(Prim::Rect {
            x: x1,
            y: area.top,
            w: x2 - x1,
            h: area.bottom - area.top,
            fill: Some(C_FAULT),
            opacity: 0.18,
            stroke: None,
            title: None,
        });
        // Edges only above the lanes: over them they would hide a one-pixel outage at the fault's start.
        for x in [x1, x2] {
            scene.front.push(Prim::Line {
                x1: x,
                y1: area.top,
                x2: x,
                y2: area.plot_top,
                color: C_FAULT,
                width: 1.0,
                opacity: 0.8,
            });
        }
        scene.front.push(Prim::Close);
    }
}

/// The fault labels on a white backing, drawn after every shading so that no fault's edge crosses
/// another's label.
pub(super) fn draw_fault_labels(
    scene: &mut Scene,
    o: &Outcome,
    spans: &[FaultSpan],
    labels: &[FaultLabel],
    area: &FaultArea,
) {
    for l in labels {
        let f = &spans[l.span];
        scene.front.push(Prim::Open(format!(
            "class=\"fault-label\" data-fault=\"{}\"{}",
            f.index, area.run_attr
        )));
        scene.front.push(Prim::Title(o.faults[f.index].describe()));
        let ly = area.top + l.row as f64 * FAULT_ROW_H;
        scene.front.push(Prim::Rect {
            x: l.x - 1.0,
            y: ly + 1.0,
            w: text_width(&l.text, 10.0) + 2.0,
            h: FAULT_ROW_H - 1.0,
            fill: Some((255, 255, 255)),
            opacity: 0.85,
            stroke: None,
            title: None,
        });
        scene.front.push(Prim::Text {
            x: l.x,
            y: ly + 10.0,
            text: l.text.clone(),
            size: 10.0,
            color: C_FAULT,
            anchor: Anchor::Start,
            bold: false,
        });
        scene.front.push(Prim::Close);
    }
}
