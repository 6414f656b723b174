//! The plan's results: metrics per design and capability, `plan.json`, the terminal summary, and
//! `plan.html` with its pictures (`downtime.svg`: the downtime breakdown per design; `nines.svg`:
//! availability in nines against node count).

use super::costs::NCAP;
use super::exact::Stationary;
use super::model::{Bound, CapacityPlan};
use super::modes::ModeKey;
use super::process::HOURS_PER_YEAR;
use super::DesignAnalysis;
use crate::observe::catalog::Capability;
use crate::report::svg::{esc, to_svg, Anchor, Prim, Rgb, Scene};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write;

/// A design's results.
pub struct DesignResult {
    pub name: String,
    /// The design's repair crews.
    pub crews: String,
    /// Cluster nodes (control plane, etcd, load balancers, workers).
    pub nodes: usize,
    /// How the failure process was solved: "markov" (exact chain) or "simulation".
    pub method: &'static str,
    pub metrics: BTreeMap<String, f64>,
    /// Failure mode (or failover into / recovery from it) → capability → downtime minutes per year.
    pub contributions: BTreeMap<String, BTreeMap<String, f64>>,
    /// One row per distinct transition, for the tables.
    pub transitions: Vec<TransitionRow>,
    pub modes_seen: usize,
    pub process_events: u64,
    /// Plain runs with the failure process as their fault script (`--brute-force`), if asked for.
    pub brute_force: Option<super::brute::BruteForce>,
}

/// A transition with its frequency and measured cost.
pub struct TransitionRow {
    pub from: String,
    pub to: String,
    pub per_year: f64,
    /// Per modelled capability: (mean cost s, min, max, runs that left it down for good).
    pub cost: BTreeMap<String, (f64, f64, f64, usize)>,
}

/// An expectation with its verdict.
pub struct PlanVerdict {
    pub design: String,
    pub metric: String,
    pub bound: Bound,
    pub actual: Option<f64>,
    pub passed: bool,
}

/// Two-sided 95 % Student t quantile for `df` degrees of freedom (Cornish-Fisher expansion; within
/// 0.2 % of the table from df = 3 on).
pub(crate) fn t95(df: usize) -> f64 {
    if df == 0 {
        return f64::INFINITY;
    }
    let z: f64 = 1.959_964;
    let d = df as f64;
    z + (z.powi(3) + z) / (4.0 * d)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d)
}

/// The results of one design.
pub fn design_result(a: &DesignAnalysis, years: f64) -> DesignResult {
    let tot = &a.totals;
    let mut metrics = BTreeMap::new();
    let spread_h = cost_spread_h_per_year(a, years);
    for cap in Capability::ALL {
        let c = cap.index();
        let t = &tot.caps[c];
        if !t.present {
            continue;
        }
        simulated_metrics(&mut metrics, cap.name(), t, tot.batches, years, spread_h[c]);
    }
    // Mean time from all up to the next quorum loss: the clocks' hours (the last one censored) over
    // the clocks that ended in a loss.
    if tot.caps[Capability::EtcdQuorum.index()].present && tot.first_loss_clocks > 0 {
        let m = tot.first_loss_h / tot.first_loss_clocks as f64;
        metrics.insert("etcd_quorum.mttf_h".into(), m);
        metrics.insert("etcd_quorum.simulated_mttf_h".into(), m);
    }
    let mut contributions = contributions(a, years);
    if let Some(st) = &a.exact {
        apply_exact(a, st, &mut metrics, &mut contributions);
    }
    DesignResult {
        name: a.design.name.clone(),
        crews: a.design.crews.describe(),
        nodes: a.model.table.by_class.iter().map(Vec::len).sum(),
        method: if a.exact.is_some() {
            "markov"
        } else {
            "simulation"
        },
        metrics,
        contributions,
        transitions: transition_rows(a, years),
        modes_seen: a.path.interner.modes.len(),
        process_events: a.path.events,
        brute_force: None,
    }
}

/// A capability's metrics from the simulated years, with the batch-means interval widened by the
/// transition costs' spread (`spread_h`, hours per year).
fn simulated_metrics(
    metrics: &mut BTreeMap<String, f64>,
    name: &str,
    t: &super::episodes::CapabilityTotals,
    batches: usize,
    years: f64,
    spread_h: f64,
) {
    let hours = years * HOURS_PER_YEAR;
    let u = t.down_h / hours;
    let batch_h = hours / batches as f64;
    let us: Vec<f64> = t.batch_down_h.iter().map(|d| d / batch_h).collect();
    let n = us.len();
    let mean = us.iter().sum::<f64>() / n as f64;
    let half_batch = if n > 1 {
        let var = us.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        t95(n - 1) * (var / n as f64).sqrt()
    } else {
        0.0
    };
    let half_cost = 1.96 * spread_h / HOURS_PER_YEAR;
    let half = (half_batch.powi(2) + half_cost.powi(2)).sqrt();
    let mean_outage_s = if t.outages > 0 {
        t.outage_sum_s / t.outages as f64
    } else {
        0.0
    };
    let values = [
        ("availability", 1.0 - u),
        ("availability_ci95_low", (1.0 - u - half).clamp(0.0, 1.0)),
        ("availability_ci95_high", (1.0 - u + half).clamp(0.0, 1.0)),
        ("nines", nines(u)),
        ("downtime_min_per_year", t.down_h * 60.0 / years),
        ("outages_per_year", t.outages as f64 / years),
        ("mean_outage_s", mean_outage_s),
        ("p99_outage_s", t.outage_hist.quantile(0.99).unwrap_or(0.0)),
        ("mode_unavailability", t.mode_down_h / hours),
        (
            "transition_downtime_min_per_year",
            (t.down_h - t.mode_down_h) * 60.0 / years,
        ),
        (
            "transition_downtime_spread_min_per_year",
            1.96 * spread_h * 60.0,
        ),
        ("simulated_availability", 1.0 - u),
    ];
    for (m, v) in values {
        metrics.insert(format!("{name}.{m}"), v);
    }
}

/// Availability as nines: -log10(unavailability), 12 when nothing was down.
pub fn nines(unavailability: f64) -> f64 {
    -(unavailability.max(1e-12)).log10()
}

/// Per capability: the standard error (hours per year) of the transition downtime that comes from
/// measuring each transition with few runs: sum over transitions of (per year)² × variance / runs.
fn cost_spread_h_per_year(a: &DesignAnalysis, years: f64) -> [f64; NCAP] {
    let mut var = [0.0; NCAP];
    for (t, samples) in a.samples.iter().enumerate() {
        let k = samples.len() as f64;
        if k < 2.0 {
            continue;
        }
        let rate = a.path.counts[t] as f64 / years;
        for (c, v) in var.iter_mut().enumerate() {
            let xs: Vec<f64> = samples
                .iter()
                .filter(|s| !s.down_end[c])
                .map(|s| s.cost_s[c] / 3600.0)
                .collect();
            if xs.len() < 2 {
                continue;
            }
            let m = xs.iter().sum::<f64>() / xs.len() as f64;
            let s2 = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
            *v += rate * rate * s2 / k;
        }
    }
    var.map(f64::sqrt)
}

fn contributions(a: &DesignAnalysis, years: f64) -> BTreeMap<String, BTreeMap<String, f64>> {
    let mut out: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    let table = &a.model.table;
    let modes = &a.path.interner.modes;
    let mut add = |label: String, per_cap: &[f64; NCAP]| {
        for cap in Capability::ALL {
            let h = per_cap[cap.index()];
            if h > 0.0 && a.totals.caps[cap.index()].present {
                *out.entry(label.clone())
                    .or_default()
                    .entry(cap.name().to_string())
                    .or_default() += h * 60.0 / years;
            }
        }
    };
    for (m, h) in a.totals.by_mode_h.iter().enumerate() {
        add(table.label(modes[m]), h);
    }
    for (t, h) in a.totals.by_transition_h.iter().enumerate() {
        let (from, to) = a.path.interner.transitions[t];
        let label = if a.path.failure[t] {
            format!("{} (failover)", table.label(modes[to]))
        } else {
            format!("{} (recovery)", table.label(modes[from]))
        };
        add(label, h);
    }
    out
}

fn transition_rows(a: &DesignAnalysis, years: f64) -> Vec<TransitionRow> {
    let table = &a.model.table;
    let modes = &a.path.interner.modes;
    let mut rows: Vec<TransitionRow> = a
        .path
        .interner
        .transitions
        .iter()
        .enumerate()
        .map(|(t, &(f, to))| {
            let samples = &a.samples[t];
            let mut cost = BTreeMap::new();
            for cap in Capability::ALL {
                let c = cap.index();
                if !a.totals.caps[c].present {
                    continue;
                }
                let xs: Vec<f64> = samples.iter().map(|s| s.cost_s[c]).collect();
                let mean = xs.iter().sum::<f64>() / xs.len().max(1) as f64;
                let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
                let max = xs.iter().copied().fold(0.0, f64::max);
                let down = samples.iter().filter(|s| s.down_end[c]).count();
                cost.insert(cap.name().to_string(), (mean, min.min(max), max, down));
            }
            TransitionRow {
                from: table.label(modes[f]),
                to: table.label(modes[to]),
                per_year: a.path.counts[t] as f64 / years,
                cost,
            }
        })
        .collect();
    rows.sort_by(|x, y| {
        y.per_year
            .total_cmp(&x.per_year)
            .then_with(|| x.from.cmp(&y.from))
            .then_with(|| x.to.cmp(&y.to))
    });
    rows
}

/// Judges the plan's expectations.
pub fn judge(plan: &CapacityPlan, results: &[DesignResult]) -> Vec<PlanVerdict> {
    plan.expect
        .iter()
        .map(|e| {
            let actual = results
                .iter()
                .find(|r| r.name == e.design)
                .and_then(|r| r.metrics.get(&e.metric).copied());
            PlanVerdict {
                design: e.design.clone(),
                metric: e.metric.clone(),
                bound: e.bound,
                actual,
                passed: actual.is_some_and(|v| e.bound.holds(v)),
            }
        })
        .collect()
}

fn bound_json(b: Bound) -> (&'static str, Value) {
    match b {
        Bound::AtLeast(v) => ("at_least", json!(v)),
        Bound::AtMost(v) => ("at_most", json!(v)),
        Bound::Equals(v) => ("equals", json!(v)),
        Bound::RecoveredWithin(ns) => ("recovered_within", json!(ns as f64 / 1e9)),
        Bound::FiresWithin(ns) => ("fires_within", json!(ns as f64 / 1e9)),
        Bound::NeverFires => ("never_fires", json!(true)),
    }
}

/// `plan.json`.
pub fn plan_json(
    plan: &CapacityPlan,
    years: u64,
    seed: u64,
    results: &[DesignResult],
    verdicts: &[PlanVerdict],
) -> Value {
    let designs: Vec<Value> = results
        .iter()
        .map(|r| {
            let transitions: Vec<Value> = r
                .transitions
                .iter()
                .map(|t| {
                    let cost: Map<String, Value> = t
                        .cost
                        .iter()
                        .map(|(c, (mean, min, max, down))| {
                            (c.clone(), json!({"mean_s": mean, "min_s": min, "max_s": max, "runs_down_for_good": down}))
                        })
                        .collect();
                    json!({"from": t.from, "to": t.to, "per_year": t.per_year, "cost": cost})
                })
                .collect();
            json!({
                "name": r.name,
                "nodes": r.nodes,
                "repair": {"crews": r.crews},
                "method": r.method,
                "metrics": r.metrics,
                "contributions": r.contributions,
                "modes_seen": r.modes_seen,
                "transitions": transitions,
                "brute_force": r.brute_force.as_ref().map(|b| b.to_json()),
            })
        })
        .collect();
    let expectations: Vec<Value> = verdicts
        .iter()
        .map(|v| {
            let (k, b) = bound_json(v.bound);
            let mut m = Map::new();
            m.insert("design".into(), json!(v.design));
            m.insert("metric".into(), json!(v.metric));
            m.insert(k.into(), b);
            m.insert("actual".into(), json!(v.actual));
            m.insert("passed".into(), json!(v.passed));
            Value::Object(m)
        })
        .collect();
    let failures: Vec<Value> = plan
        .failures
        .iter()
        .map(|f| json!({"class": f.class.name(), "failure": f.ttf.describe(), "repair": f.ttr.describe()}))
        .collect();
    json!({
        "plan": plan.name,
        "description": plan.description,
        "seed": seed,
        "years": years,
        "version": env!("CARGO_PKG_VERSION"),
        "transition_samples": plan.transition_samples,
        "failures": failures,
        "repair": {"crews": plan.crews.describe()},
        "passed": verdicts.iter().all(|v| v.passed),
        "designs": designs,
        "expectations": expectations,
    })
}

/// A number for people: 4 significant digits, scientific when tiny.
pub fn fmt_sig(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() < 1e-3 {
        format!("{v:.3e}")
    } else if v.abs() >= 1e4 {
        format!("{v:.0}")
    } else {
        let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 8) as usize;
        let s = format!("{v:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// An expectation's actual value: availabilities with their nines, anything else with 4 digits.
fn fmt_actual(v: f64) -> String {
    if v > 0.99 && v < 1.0 {
        fmt_availability(v)
    } else {
        fmt_sig(v)
    }
}

/// Availability with enough nines to tell designs apart.
pub fn fmt_availability(a: f64) -> String {
    let n = nines(1.0 - a).floor() as usize;
    let digits = (n + 3).clamp(4, 12);
    format!("{a:.digits$}")
}

/// The terminal summary.
pub fn summary(
    plan: &CapacityPlan,
    years: u64,
    seed: u64,
    results: &[DesignResult],
    verdicts: &[PlanVerdict],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}  ({} designs, {years} cluster-years each, seed {seed})",
        plan.name,
        results.len(),
    );
    if !plan.description.is_empty() {
        let _ = writeln!(s, "  {}", plan.description);
    }
    for r in results {
        design_summary(&mut s, r);
    }
    if !verdicts.is_empty() {
        let _ = writeln!(s, "\nexpectations");
        for v in verdicts {
            let actual = v.actual.map_or("missing".to_string(), fmt_actual);
            let _ = writeln!(
                s,
                "  {} {} {} {} (actual {actual})",
                if v.passed { "PASS" } else { "FAIL" },
                v.design,
                v.metric,
                v.bound.text()
            );
        }
    }
    let failed = verdicts.iter().filter(|v| !v.passed).count();
    let _ = writeln!(
        s,
        "result: {} ({} of {} expectations hold)",
        if failed == 0 { "PASS" } else { "FAIL" },
        verdicts.len() - failed,
        verdicts.len()
    );
    s
}

/// One design's part of the terminal summary.
fn design_summary(s: &mut String, r: &DesignResult) {
    let _ = writeln!(
        s,
        "\n{}  ({} nodes, crews {}, {} failure modes met)",
        r.name, r.nodes, r.crews, r.modes_seen
    );
    let _ = writeln!(
        s,
        "  {:<15} {:>16} {:>6} {:>26} {:>10} {:>10} {:>11}",
        "capability", "availability", "nines", "95% CI", "min/yr", "outages/yr", "p99 outage"
    );
    for cap in Capability::ALL {
        let g = |m: &str| r.metrics.get(&format!("{}.{m}", cap.name())).copied();
        let Some(a) = g("availability") else { continue };
        let _ = writeln!(
            s,
            "  {:<15} {:>16} {:>6.2} {:>26} {:>10} {:>10} {:>10}s",
            cap.name(),
            fmt_availability(a),
            g("nines").unwrap_or(0.0),
            format!(
                "[{}, {}]",
                fmt_availability(g("availability_ci95_low").unwrap_or(a)),
                fmt_availability(g("availability_ci95_high").unwrap_or(a))
            ),
            fmt_sig(g("downtime_min_per_year").unwrap_or(0.0)),
            fmt_sig(g("outages_per_year").unwrap_or(0.0)),
            fmt_sig(g("p99_outage_s").unwrap_or(0.0)),
        );
    }
    if let Some(b) = &r.brute_force {
        brute_force_lines(s, r, b);
    }
    if let Some(m) = r.metrics.get("etcd_quorum.mttf_h") {
        let _ = writeln!(
            s,
            "  mean time to quorum loss: {} h ({} years)",
            fmt_sig(*m),
            fmt_sig(m / HOURS_PER_YEAR)
        );
    }
    let top = top_contributions(r, 5);
    if !top.is_empty() {
        let _ = writeln!(
            s,
            "  largest contributions (min/yr of api, else of the worst capability):"
        );
        for (label, cap, v) in top {
            let _ = writeln!(s, "    {label}: {} min/yr ({cap})", fmt_sig(v));
        }
    }
}

/// The brute-force runs beside the plan's estimate, per capability.
fn brute_force_lines(s: &mut String, r: &DesignResult, b: &super::brute::BruteForce) {
    let _ = writeln!(
        s,
        "  brute force ({} plain runs of {} s with the failure process as fault script):",
        b.runs, b.duration_s
    );
    for cap in Capability::ALL {
        let (Some((mean, half)), Some(a)) = (
            b.estimate(cap.name()),
            r.metrics.get(&format!("{}.availability", cap.name())),
        ) else {
            continue;
        };
        let agrees = (mean - a).abs() <= half;
        let _ = writeln!(
            s,
            "    {:<15} runs {} +- {} vs plan {} ({})",
            cap.name(),
            fmt_availability(mean),
            fmt_sig(half),
            fmt_availability(*a),
            if agrees {
                "within the runs' 95% CI"
            } else {
                "outside the runs' 95% CI"
            }
        );
    }
}

/// The largest contributions: (label, capability, min/yr), by api where modelled, else the largest.
fn top_contributions(r: &DesignResult, n: usize) -> Vec<(String, String, f64)> {
    let mut v: Vec<(String, String, f64)> = r
        .contributions
        .iter()
        .filter_map(|(label, caps)| {
            let (cap, m) = caps
                .get_key_value("api")
                .or_else(|| caps.iter().max_by(|a, b| a.1.total_cmp(b.1)))?;
            Some((label.clone(), cap.clone(), *m))
        })
        .collect();
    v.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

// ---------------------------------------------------------------------------------------------------
// Pictures and HTML

const PALETTE: [Rgb; 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];
const INK: Rgb = (34, 34, 34);
const MUTED: Rgb = (110, 110, 110);

fn text(
    sc: &mut Scene,
    x: f64,
    y: f64,
    t: impl Into<String>,
    anchor: Anchor,
    bold: bool,
    color: Rgb,
) {
    sc.main.push(Prim::Text {
        x,
        y,
        text: t.into(),
        size: 11.0,
        color,
        anchor,
        bold,
    });
}

fn rect(sc: &mut Scene, x: f64, y: f64, w: f64, h: f64, fill: Rgb, title: Option<String>) {
    sc.main.push(Prim::Rect {
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

/// The downtime breakdown: per design, one stacked bar per capability (minutes per year), one colour
/// per failure mode (the eight largest over the plan; the rest as "other").
pub fn downtime_svg(results: &[DesignResult]) -> String {
    to_svg(&downtime_scene(results))
}

/// The downtime chart as a PNG at `path`.
pub fn downtime_png(results: &[DesignResult], path: &std::path::Path) -> Result<(), String> {
    crate::report::png::render_scene_png(&downtime_scene(results), path)
}

/// The availability chart as a PNG at `path`.
pub fn nines_png(results: &[DesignResult], path: &std::path::Path) -> Result<(), String> {
    crate::report::png::render_scene_png(&nines_scene(results), path)
}

fn downtime_scene(results: &[DesignResult]) -> Scene {
    let caps = modelled_caps(results);
    let (shown, more) = legend_labels(results);
    let max = results
        .iter()
        .flat_map(|r| caps.iter().map(move |c| downtime_of(r, c)))
        .fold(0.0, f64::max)
        .max(1e-9);
    let (left, width, bar) = (230.0, 520.0, 14.0);
    let mut sc = Scene {
        width: left + width + 120.0,
        ..Scene::default()
    };
    let title = "Downtime per year by failure mode (minutes per year)";
    text(&mut sc, 10.0, 18.0, title, Anchor::Start, true, INK);
    let mut y = 30.0;
    for r in results {
        text(&mut sc, 10.0, y + 12.0, &r.name, Anchor::Start, true, INK);
        y += 18.0;
        for c in &caps {
            text(
                &mut sc,
                left - 8.0,
                y + bar - 3.0,
                *c,
                Anchor::End,
                false,
                INK,
            );
            let mut x = left;
            for (l, v) in bar_segments(r, c, &shown) {
                let w = v / max * width;
                let tip = Some(format!("{l}: {} min/yr", fmt_sig(v)));
                rect(
                    &mut sc,
                    x,
                    y,
                    w.max(0.0),
                    bar,
                    legend_colour(&shown, l),
                    tip,
                );
                x += w;
            }
            let total = fmt_sig(downtime_of(r, c));
            text(
                &mut sc,
                x + 6.0,
                y + bar - 3.0,
                total,
                Anchor::Start,
                false,
                MUTED,
            );
            y += bar + 4.0;
        }
        y += 8.0;
    }
    sc.height = draw_legend(&mut sc, y + 6.0, &shown, more) + 10.0;
    sc
}

/// The capabilities some design models, in catalog order.
fn modelled_caps(results: &[DesignResult]) -> Vec<&'static str> {
    Capability::ALL
        .iter()
        .map(|c| c.name())
        .filter(|c| {
            results
                .iter()
                .any(|r| r.metrics.contains_key(&format!("{c}.availability")))
        })
        .collect()
}

fn downtime_of(r: &DesignResult, cap: &str) -> f64 {
    r.metrics
        .get(&format!("{cap}.downtime_min_per_year"))
        .copied()
        .unwrap_or(0.0)
}

/// The eight failure modes with the most downtime over the plan, and whether there are more.
fn legend_labels(results: &[DesignResult]) -> (Vec<&str>, bool) {
    let mut totals: BTreeMap<&str, f64> = BTreeMap::new();
    for r in results {
        for (label, per) in &r.contributions {
            *totals.entry(label).or_default() += per.values().sum::<f64>();
        }
    }
    let mut labels: Vec<(&str, f64)> = totals.into_iter().collect();
    labels.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let more = labels.len() > 8;
    (labels.into_iter().take(8).map(|l| l.0).collect(), more)
}

/// A legend entry's colour; anything else is "other".
fn legend_colour(shown: &[&str], label: &str) -> Rgb {
    shown
        .iter()
        .position(|l| *l == label)
        .map_or(PALETTE[9], |i| PALETTE[i])
}

/// One bar's segments, largest first, with the modes outside the legend as one "other" segment (so
/// the picture stays small).
fn bar_segments<'a>(r: &'a DesignResult, cap: &str, shown: &[&str]) -> Vec<(&'a str, f64)> {
    let all: Vec<(&str, f64)> = r
        .contributions
        .iter()
        .filter_map(|(l, per)| per.get(cap).map(|v| (l.as_str(), *v)))
        .collect();
    let other: f64 = all
        .iter()
        .filter(|s| !shown.contains(&s.0))
        .map(|s| s.1)
        .sum();
    let mut segments: Vec<(&str, f64)> = all.into_iter().filter(|s| shown.contains(&s.0)).collect();
    segments.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    if other > 0.0 {
        segments.push(("other failure modes", other));
    }
    segments
}

/// The legend from `y` down; returns where it ends.
fn draw_legend(sc: &mut Scene, mut y: f64, shown: &[&str], more: bool) -> f64 {
    let other = more.then_some("other failure modes");
    for (i, l) in shown.iter().copied().chain(other).enumerate() {
        let colour = if i < shown.len() {
            PALETTE[i]
        } else {
            PALETTE[9]
        };
        rect(sc, 10.0, y, 10.0, 10.0, colour, None);
        text(sc, 26.0, y + 9.0, l, Anchor::Start, false, INK);
        y += 15.0;
    }
    y
}

/// Availability in nines against node count: one point per design and capability.
pub fn nines_svg(results: &[DesignResult]) -> String {
    to_svg(&nines_scene(results))
}

fn nines_scene(results: &[DesignResult]) -> Scene {
    let caps = modelled_caps(results);
    let nines_of = |r: &DesignResult, c: &str| r.metrics.get(&format!("{c}.nines")).copied();
    let max_nines = results
        .iter()
        .flat_map(|r| caps.iter().filter_map(move |c| nines_of(r, c)))
        .fold(1.0f64, f64::max)
        .ceil()
        + 1.0;
    let frame = NinesFrame {
        left: 60.0,
        top: 40.0,
        w: 520.0,
        h: 300.0,
        min_nodes: (results.iter().map(|r| r.nodes).min().unwrap_or(0) as f64 - 1.0).max(0.0),
        max_nodes: results.iter().map(|r| r.nodes).max().unwrap_or(1) as f64 + 1.0,
        max_nines,
    };
    let mut sc = Scene {
        width: frame.left + frame.w + 180.0,
        height: frame.top + frame.h + 50.0,
        ..Scene::default()
    };
    let title = "Availability (nines) against cluster nodes";
    text(&mut sc, 10.0, 18.0, title, Anchor::Start, true, INK);
    frame.axes(&mut sc, results);
    for (ci, cap) in caps.iter().enumerate() {
        let colour = PALETTE[ci % PALETTE.len()];
        for (ri, r) in results.iter().enumerate() {
            let Some(v) = nines_of(r, cap) else { continue };
            let (x, y) = (
                frame.x(r.nodes as f64) + (ci as f64 - 2.0) * 5.0,
                frame.y(v),
            );
            let tip = Some(format!("{}: {cap} {v:.2} nines", r.name));
            rect(&mut sc, x - 3.5, y - 3.5, 7.0, 7.0, colour, tip);
            if ci == 0 {
                let ty = y - 6.0 - (ri % 2) as f64 * 10.0;
                text(&mut sc, x + 8.0, ty, &r.name, Anchor::Start, false, MUTED);
            }
        }
        let (lx, ly) = (frame.left + frame.w + 20.0, frame.top + ci as f64 * 16.0);
        rect(&mut sc, lx, ly, 10.0, 10.0, colour, None);
        text(
            &mut sc,
            lx + 16.0,
            ly + 9.0,
            *cap,
            Anchor::Start,
            false,
            INK,
        );
    }
    sc
}

/// Where the nines chart's plot area sits and what it spans.
struct NinesFrame {
    left: f64,
    top: f64,
    w: f64,
    h: f64,
    min_nodes: f64,
    max_nodes: f64,
    max_nines: f64,
}

impl NinesFrame {
    fn x(&self, nodes: f64) -> f64 {
        self.left + (nodes - self.min_nodes) / (self.max_nodes - self.min_nodes).max(1.0) * self.w
    }

    fn y(&self, nines: f64) -> f64 {
        self.top + self.h - nines / self.max_nines * self.h
    }

    /// Grid lines with the nines, node-count ticks and the axis label.
    fn axes(&self, sc: &mut Scene, results: &[DesignResult]) {
        for k in 0..=(self.max_nines as usize) {
            let y = self.y(k as f64);
            sc.back.push(Prim::Line {
                x1: self.left,
                y1: y,
                x2: self.left + self.w,
                y2: y,
                color: (225, 225, 225),
                width: 1.0,
                opacity: 1.0,
            });
            text(
                sc,
                self.left - 6.0,
                y + 4.0,
                k.to_string(),
                Anchor::End,
                false,
                MUTED,
            );
        }
        let mut ticks: Vec<usize> = results.iter().map(|r| r.nodes).collect();
        ticks.sort_unstable();
        ticks.dedup();
        let base = self.top + self.h;
        for n in ticks {
            text(
                sc,
                self.x(n as f64),
                base + 16.0,
                n.to_string(),
                Anchor::Middle,
                false,
                MUTED,
            );
        }
        let mid = self.left + self.w / 2.0;
        text(
            sc,
            mid,
            base + 34.0,
            "cluster nodes",
            Anchor::Middle,
            false,
            INK,
        );
    }
}

/// `plan.html`: the tables and both pictures inline.
pub fn plan_html(
    plan: &CapacityPlan,
    years: u64,
    seed: u64,
    results: &[DesignResult],
    verdicts: &[PlanVerdict],
) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{n}: capacity plan</title>\n<style>body{{font-family:DejaVu Sans,Verdana,sans-serif;font-size:13px;margin:20px;color:#222}}table{{border-collapse:collapse;margin:8px 0 18px}}td,th{{border:1px solid #ccc;padding:3px 7px;text-align:right}}td:first-child,th:first-child{{text-align:left}}.fail{{color:#c00;font-weight:bold}}.pass{{color:#070}}</style></head><body>\n<h1>{n}</h1>\n<p>{d}</p>\n<p>{years} cluster-years per design, seed {seed}, repair crews unless a design says otherwise: {c}, {k} detailed runs per transition.</p>\n",
        n = esc(&plan.name),
        d = esc(&plan.description),
        c = esc(&plan.crews.describe()),
        k = plan.transition_samples
    );
    h.push_str("<h2>Failure processes</h2>\n<table><tr><th>class</th><th>time to failure</th><th>time to repair</th></tr>\n");
    for f in &plan.failures {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            f.class.name(),
            esc(&f.ttf.describe()),
            esc(&f.ttr.describe())
        );
    }
    h.push_str("</table>\n");
    if !verdicts.is_empty() {
        h.push_str("<h2>Expectations</h2>\n<table><tr><th>design</th><th>metric</th><th>bound</th><th>actual</th><th>verdict</th></tr>\n");
        for v in verdicts {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                esc(&v.design),
                esc(&v.metric),
                esc(&v.bound.text()),
                v.actual.map_or("missing".into(), fmt_actual),
                if v.passed { "pass" } else { "fail" },
                if v.passed { "PASS" } else { "FAIL" }
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("<h2>Downtime breakdown</h2>\n");
    h.push_str(&downtime_svg(results));
    h.push_str("<h2>Nines against node count</h2>\n");
    h.push_str(&nines_svg(results));
    for r in results {
        design_html(&mut h, r);
    }
    h.push_str("</body></html>\n");
    h
}

fn design_html(h: &mut String, r: &DesignResult) {
    let _ = writeln!(
        h,
        "<h2>Design {} ({} nodes, repair crews: {})</h2>",
        esc(&r.name),
        r.nodes,
        esc(&r.crews)
    );
    h.push_str("<table><tr><th>capability</th><th>availability</th><th>95% CI</th><th>nines</th><th>downtime min/yr</th><th>of which failovers</th><th>outages/yr</th><th>mean outage s</th><th>p99 outage s</th></tr>\n");
    for cap in Capability::ALL {
        let g = |m: &str| r.metrics.get(&format!("{}.{m}", cap.name())).copied();
        let Some(a) = g("availability") else { continue };
        let f = |m: &str| g(m).map_or("-".into(), fmt_sig);
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>[{}, {}]</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            cap.name(),
            fmt_availability(a),
            fmt_availability(g("availability_ci95_low").unwrap_or(a)),
            fmt_availability(g("availability_ci95_high").unwrap_or(a)),
            g("nines").unwrap_or(0.0),
            f("downtime_min_per_year"),
            f("transition_downtime_min_per_year"),
            f("outages_per_year"),
            f("mean_outage_s"),
            f("p99_outage_s")
        );
    }
    h.push_str("</table>\n");
    if let Some(m) = r.metrics.get("etcd_quorum.mttf_h") {
        let _ = writeln!(
            h,
            "<p>Mean time to etcd quorum loss: {} h.</p>",
            fmt_sig(*m)
        );
    }
    let caps: Vec<&str> = Capability::ALL
        .iter()
        .map(|c| c.name())
        .filter(|c| r.metrics.contains_key(&format!("{c}.availability")))
        .collect();
    h.push_str(
        "<h3>Contributions (downtime minutes per year)</h3>\n<table><tr><th>failure mode</th>",
    );
    for c in &caps {
        let _ = write!(h, "<th>{c}</th>");
    }
    h.push_str("</tr>\n");
    for (label, per) in &r.contributions {
        let _ = write!(h, "<tr><td>{}</td>", esc(label));
        for c in &caps {
            let _ = write!(
                h,
                "<td>{}</td>",
                per.get(*c).map_or("".into(), |v| fmt_sig(*v))
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n<h3>Transitions (mean cost s [min-max]; runs down for good)</h3>\n<table><tr><th>from</th><th>to</th><th>per year</th>");
    for c in &caps {
        let _ = write!(h, "<th>{c}</th>");
    }
    h.push_str("</tr>\n");
    for t in &r.transitions {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td>",
            esc(&t.from),
            esc(&t.to),
            fmt_sig(t.per_year)
        );
        for c in &caps {
            let cell = t.cost.get(*c).map_or(String::new(), |(m, lo, hi, down)| {
                let d = if *down > 0 {
                    format!("; {down} down")
                } else {
                    String::new()
                };
                format!("{} [{}-{}]{d}", fmt_sig(*m), fmt_sig(*lo), fmt_sig(*hi))
            });
            let _ = write!(h, "<td>{cell}</td>");
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

// ---------------------------------------------------------------------------------------------------
// Exact metrics (every distribution exponential)

/// What the exact chain gives, with the measured samples: per capability (unavailability of modes,
/// transition downtime hours per year, its variance, outages per year), the contributions, the mean
/// time to quorum loss and the probability of modes no measured transition enters (inferred).
struct ExactPart {
    mode_u: [f64; NCAP],
    trans_h: [f64; NCAP],
    trans_var: [f64; NCAP],
    outages: [f64; NCAP],
    contributions: BTreeMap<String, BTreeMap<String, f64>>,
    mttf_h: Option<f64>,
    unmeasured: f64,
}

/// Per mode of the chain: the flow-weighted fraction of measured entries that leave each capability
/// down for good, and whether it was inferred. A mode no measured transition enters (too rare for
/// the simulated years) takes, per capability, the largest fraction of the measured modes it contains
/// (the same zones or fewer, no more nodes of any class): more failures do not bring a capability back.
fn down_fractions(a: &DesignAnalysis, st: &Stationary) -> BTreeMap<ModeKey, ([f64; NCAP], bool)> {
    let mut acc: BTreeMap<ModeKey, (f64, [f64; NCAP])> = BTreeMap::new();
    for (&(from, to), &flow) in &st.flows {
        let Some(t) = measured(a, from, to) else {
            continue;
        };
        let e = acc.entry(to).or_insert((0.0, [0.0; NCAP]));
        e.0 += flow;
        let k = a.samples[t].len() as f64;
        for c in 0..NCAP {
            e.1[c] += flow * a.samples[t].iter().filter(|s| s.down_end[c]).count() as f64 / k;
        }
    }
    let mut known: BTreeMap<ModeKey, [f64; NCAP]> = acc
        .into_iter()
        .filter(|(_, (w, _))| *w > 0.0)
        .map(|(m, (w, d))| (m, d.map(|x| x / w)))
        .collect();
    known.insert(ModeKey::default(), [0.0; NCAP]);
    let contains = |big: &ModeKey, small: &ModeKey| {
        small.zones_down & !big.zones_down == 0
            && small.down.iter().zip(big.down).all(|(s, b)| *s <= b)
    };
    st.modes
        .keys()
        .map(|m| match known.get(m) {
            Some(d) => (*m, (*d, false)),
            None => {
                let mut d = [0.0; NCAP];
                for (k, dk) in known.iter().filter(|(k, _)| contains(m, k)) {
                    debug_assert!(k != m);
                    for c in 0..NCAP {
                        d[c] = f64::max(d[c], dk[c]);
                    }
                }
                (*m, (d, true))
            }
        })
        .collect()
}

/// The measured transition between two modes, if the simulated years met it.
fn measured(a: &DesignAnalysis, from: ModeKey, to: ModeKey) -> Option<usize> {
    let i = &a.path.interner;
    i.find_transition(i.mode_id(from)?, i.mode_id(to)?)
}

fn exact_part(a: &DesignAnalysis, st: &Stationary) -> ExactPart {
    let table = &a.model.table;
    let fr = down_fractions(a, st);
    let mut x = ExactPart {
        mode_u: [0.0; NCAP],
        trans_h: [0.0; NCAP],
        trans_var: [0.0; NCAP],
        outages: [0.0; NCAP],
        contributions: BTreeMap::new(),
        mttf_h: None,
        unmeasured: 0.0,
    };
    let present = |c: usize| a.totals.caps[c].present;
    let add =
        |out: &mut BTreeMap<String, BTreeMap<String, f64>>, label: String, c: usize, min: f64| {
            if min > 0.0 {
                *out.entry(label)
                    .or_default()
                    .entry(Capability::ALL[c].name().to_string())
                    .or_default() += min;
            }
        };
    for (m, p) in &st.modes {
        let (d, inferred) = fr[m];
        if inferred {
            x.unmeasured += p;
        }
        for c in (0..NCAP).filter(|&c| present(c)) {
            x.mode_u[c] += p * d[c];
            add(
                &mut x.contributions,
                table.label(*m),
                c,
                p * d[c] * HOURS_PER_YEAR * 60.0,
            );
        }
    }
    let q = Capability::EtcdQuorum.index();
    let lost = |m: &ModeKey| fr[m].0[q] > 0.5;
    let mut loss_flow = 0.0;
    for (&(from, to), &flow) in &st.flows {
        if !lost(&from) && lost(&to) {
            loss_flow += flow;
        }
        let Some(t) = measured(a, from, to) else {
            continue;
        };
        let samples = &a.samples[t];
        let k = samples.len() as f64;
        let label = if a.path.failure[t] {
            format!("{} (failover)", table.label(to))
        } else {
            format!("{} (recovery)", table.label(from))
        };
        for c in (0..NCAP).filter(|&c| present(c)) {
            let costs: Vec<f64> = samples
                .iter()
                .map(|s| {
                    if s.down_end[c] {
                        0.0
                    } else {
                        s.cost_s[c] / 3600.0
                    }
                })
                .collect();
            let mean = costs.iter().sum::<f64>() / k;
            x.trans_h[c] += flow * mean;
            if k > 1.0 {
                let s2 = costs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1.0);
                x.trans_var[c] += flow * flow * s2 / k;
            }
            add(&mut x.contributions, label.clone(), c, flow * mean * 60.0);
            let up_before = 1.0 - fr[&from].0[c];
            let goes_down = samples
                .iter()
                .filter(|s| s.down_end[c] || s.cost_s[c] > 0.0)
                .count() as f64
                / k;
            x.outages[c] += flow * up_before * goes_down;
        }
    }
    if present(q) && loss_flow > 0.0 {
        x.mttf_h = st.mean_time_to(lost);
    }
    x
}

/// Replaces the headline metrics and the contributions by the exact chain's, keeping the simulated
/// availability beside them and the p99 outage from the simulated years.
fn apply_exact(
    a: &DesignAnalysis,
    st: &Stationary,
    metrics: &mut BTreeMap<String, f64>,
    contributions: &mut BTreeMap<String, BTreeMap<String, f64>>,
) {
    let x = exact_part(a, st);
    for cap in Capability::ALL {
        let c = cap.index();
        if !a.totals.caps[c].present {
            continue;
        }
        let name = cap.name();
        let u = x.mode_u[c] + x.trans_h[c] / HOURS_PER_YEAR;
        let half = 1.96 * x.trans_var[c].sqrt() / HOURS_PER_YEAR;
        let down_min = u * HOURS_PER_YEAR * 60.0;
        let mut put = |m: &str, v: f64| {
            metrics.insert(format!("{name}.{m}"), v);
        };
        put("availability", 1.0 - u);
        put("availability_ci95_low", (1.0 - u - half).clamp(0.0, 1.0));
        put("availability_ci95_high", (1.0 - u + half).clamp(0.0, 1.0));
        put("nines", nines(u));
        put("downtime_min_per_year", down_min);
        put("outages_per_year", x.outages[c]);
        put(
            "mean_outage_s",
            if x.outages[c] > 0.0 {
                down_min * 60.0 / x.outages[c]
            } else {
                0.0
            },
        );
        put("mode_unavailability", x.mode_u[c]);
        put("transition_downtime_min_per_year", x.trans_h[c] * 60.0);
        put(
            "transition_downtime_spread_min_per_year",
            1.96 * x.trans_var[c].sqrt() * 60.0,
        );
    }
    metrics.remove("etcd_quorum.mttf_h");
    if let Some(m) = x.mttf_h {
        metrics.insert("etcd_quorum.mttf_h".into(), m);
    }
    metrics.insert("markov.inferred_probability".into(), x.unmeasured);
    metrics.insert(
        "markov.truncated_probability".into(),
        st.deepest_probability,
    );
    *contributions = x.contributions;
}
