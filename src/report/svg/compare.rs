//! The parts of a comparison picture that a single run does not have: a title bar over each run and
//! the table of metrics side by side, with the rows that differ highlighted.

use super::scene::{Anchor, Prim, Scene};
use super::style::{C_DIFF, WIDTH};
use super::write::esc;
use crate::engine::fmt_duration;
use crate::report::text::fmt_num;
use crate::run::Outcome;
use std::collections::BTreeSet;

/// The id of the `i`th run of a comparison: "a", "b", ... "z", then "r27"...
pub(super) fn run_id(i: usize) -> String {
    match u8::try_from(i) {
        Ok(n) if n < 26 => char::from(b'a' + n).to_string(),
        _ => format!("r{}", i + 1),
    }
}

/// The title bar over run `id` ("a", "b"...) at `y`: its label, scenario, seed, length and verdict.
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
    values: Vec<String>,
    /// With two runs: B minus A where both have the metric and they differ; empty otherwise.
    delta: String,
    differs: bool,
}

/// The metrics side by side, from `y`; rows that differ are highlighted. Two runs get a `B − A`
/// column; more share the width. Returns the y below it.
pub(super) fn draw_metrics_table(scene: &mut Scene, runs: &[(&Outcome, &str)], mut y: f64) -> f64 {
    y += 10.0;
    let n = runs.len().max(1);
    let first = 380.0;
    let col = if n == 2 {
        180.0
    } else {
        ((WIDTH - first - 20.0) / n as f64).min(220.0)
    };
    scene.bold(10.0, y + 12.0, "metric", 11.0);
    for (i, (_, label)) in runs.iter().enumerate() {
        let x = first + col * i as f64;
        let head = format!("{}: {label}", run_id(i).to_uppercase());
        scene.bold(x, y + 12.0, head, 11.0);
    }
    if n == 2 {
        scene.bold(first + 2.0 * col, y + 12.0, "B \u{2212} A", 11.0);
    }
    y += 18.0;
    let outcomes: Vec<&Outcome> = runs.iter().map(|(o, _)| *o).collect();
    for row in metric_rows(&outcomes) {
        scene.main.push(Prim::Open(format!(
            "class=\"metric{}\" data-metric=\"{}\"",
            if row.differs { " diff" } else { "" },
            esc(&row.name)
        )));
        if row.differs {
            scene.fill(4.0, y, WIDTH - 8.0, 16.0, C_DIFF, None);
        }
        scene.text(10.0, y + 12.0, row.name, 11.0, Anchor::Start);
        for (i, v) in row.values.into_iter().enumerate() {
            scene.text(first + col * i as f64, y + 12.0, v, 11.0, Anchor::Start);
        }
        if n == 2 {
            scene.text(first + 2.0 * col, y + 12.0, row.delta, 11.0, Anchor::Start);
        }
        scene.main.push(Prim::Close);
        y += 16.0;
    }
    y
}

/// The rows: the verdicts first, then every metric of any run in name order.
fn metric_rows(runs: &[&Outcome]) -> Vec<MetricRow> {
    let verdicts: Vec<String> = runs.iter().map(|o| verdict(o)).collect();
    let mut rows = vec![MetricRow {
        name: "result".into(),
        differs: verdicts.iter().any(|v| *v != verdicts[0]),
        values: verdicts,
        delta: String::new(),
    }];
    let names: BTreeSet<&String> = runs.iter().flat_map(|o| o.metrics.keys()).collect();
    for name in names {
        let vals: Vec<Option<f64>> = runs.iter().map(|o| o.metrics.get(name).copied()).collect();
        let show = |v: Option<f64>| v.map(fmt_num).unwrap_or_else(|| "\u{2014}".into());
        let differs = vals.windows(2).any(|w| delta(w[0], w[1]).1);
        let delta = match vals.as_slice() {
            [a, b] => delta(*a, *b).0,
            _ => String::new(),
        };
        rows.push(MetricRow {
            name: name.clone(),
            values: vals.into_iter().map(show).collect(),
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
