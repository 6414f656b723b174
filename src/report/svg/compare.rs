//! The parts of a comparison picture that a single run does not have: a title bar over each run and
//! the table of metrics side by side, with the rows that differ highlighted.

use super::scene::{Anchor, Prim, Scene};
use super::style::{C_DIFF, WIDTH};
use super::write::esc;
use crate::engine::fmt_duration;
use crate::report::text::fmt_num;
use crate::run::Outcome;
use std::collections::BTreeSet;

/// The title bar over run `id` ("a" or "b") at `y`: its label, scenario, seed, length and verdict.
pub(super) fn draw_run_title(scene: &mut Scene, o: &Outcome, label: &str, id: &str, y: f64) {
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
}

/// One row of the metrics table.
struct MetricRow {
    name: String,
    a: String,
    b: String,
    /// B minus A where both have the metric and they differ; empty where they agree.
    delta: String,
    differs: bool,
}

/// The metrics side by side, from `y`; rows that differ are highlighted. Returns the y below it.
pub(super) fn draw_metrics_table(
    scene: &mut Scene,
    (a, b): (&Outcome, &Outcome),
    (label_a, label_b): (&str, &str),
    mut y: f64,
) -> f64 {
    y += 10.0;
    let cols = [10.0, 380.0, 560.0, 740.0];
    scene.bold(cols[0], y + 12.0, "metric", 11.0);
    scene.bold(cols[1], y + 12.0, format!("A: {label_a}"), 11.0);
    scene.bold(cols[2], y + 12.0, format!("B: {label_b}"), 11.0);
    scene.bold(cols[3], y + 12.0, "B \u{2212} A", 11.0);
    y += 18.0;
    for row in metric_rows(a, b) {
        scene.main.push(Prim::Open(format!(
            "class=\"metric{}\" data-metric=\"{}\"",
            if row.differs { " diff" } else { "" },
            esc(&row.name)
        )));
        if row.differs {
            scene.fill(4.0, y, 900.0, 16.0, C_DIFF, None);
        }
        scene.text(cols[0], y + 12.0, row.name, 11.0, Anchor::Start);
        scene.text(cols[1], y + 12.0, row.a, 11.0, Anchor::Start);
        scene.text(cols[2], y + 12.0, row.b, 11.0, Anchor::Start);
        scene.text(cols[3], y + 12.0, row.delta, 11.0, Anchor::Start);
        scene.main.push(Prim::Close);
        y += 16.0;
    }
    y
}

/// The rows: the verdicts first, then every metric of either run in name order.
fn metric_rows(a: &Outcome, b: &Outcome) -> Vec<MetricRow> {
    let (ra, rb) = (verdict(a), verdict(b));
    let mut rows = vec![MetricRow {
        name: "result".into(),
        differs: ra != rb,
        a: ra,
        b: rb,
        delta: String::new(),
    }];
    let names: BTreeSet<&String> = a.metrics.keys().chain(b.metrics.keys()).collect();
    for name in names {
        let va = a.metrics.get(name).copied();
        let vb = b.metrics.get(name).copied();
        let show = |v: Option<f64>| v.map(fmt_num).unwrap_or_else(|| "\u{2014}".into());
        let (delta, differs) = delta(va, vb);
        rows.push(MetricRow {
            name: name.clone(),
            a: show(va),
            b: show(vb),
            delta,
            differs,
        });
    }
    rows
}

/// A run's verdict as the table shows it.
fn verdict(o: &Outcome) -> String {
    if o.verdicts.is_empty() {
        "(no expectations)".to_string()
    } else if o.passed() {
        "PASS".to_string()
    } else {
        "FAIL".to_string()
    }
}

/// B minus A and whether they differ; values within a relative 1e-9 count as equal, so that float
/// noise is not highlighted.
fn delta(va: Option<f64>, vb: Option<f64>) -> (String, bool) {
    match (va, vb) {
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
    }
}
