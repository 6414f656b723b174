//! Baselines: a scenario's outcome summary kept in `DIR/<scenario-name>.baseline.json`, and the comparison
//! of a new outcome against it with a tolerance per metric.
//!
//! A baseline file is a JSON object:
//! ```json
//! { "scenario": "stacked-etcd-leader-crash", "seed": 7, "passed": true,
//!   "metrics": { "api.availability": 0.9981, "etcd.leader_changes": 1 } }
//! ```
//! With a seed sweep `seed` becomes `seeds` (the list) and each metric is its worst value over the seeds
//! (see [`worst_metrics`]). Characters of the scenario name other than ASCII letters, digits, `.`, `_` and
//! `-` become `_` in the file name.
//!
//! # Tolerances
//! A metric drifts when `|now - baseline| > max(absolute, relative * |baseline|)`. The defaults follow the
//! metric's kind in the catalog (`observe::catalog`, [`MetricKind::tolerance`]):
//! - ratios (fractions 0..1, such as availability): absolute 0.005, no relative part;
//! - durations in seconds or milliseconds: absolute 0.5 (half a second, or half a millisecond), relative 10%;
//! - counts, and names the catalog does not know: absolute 1, relative 10%.
//!
//! `--tolerance` overrides them; it may be repeated, each time `[METRIC=]VALUE[%]`: a plain number is an
//! absolute tolerance, one ending in `%` a relative one; without `METRIC=` it applies to every metric that
//! has no rule of its own. A rule given only an absolute (or only a relative) part has no other part, so
//! `--tolerance 0` asks for exact equality and `--tolerance 0.01 --tolerance 5%` for "0.01 or 5%".
//!
//! A metric in the baseline that the run no longer produces is a drift; a new metric is reported but is not.

use crate::observe::catalog::{self, MetricKind, Worse as CatalogWorse};
use crate::observe::metrics::Metrics;
use crate::report::json::round;
use crate::scenario::plan::{Bound, ExpectationPlan};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::observe::catalog::Tolerance;

/// The default tolerance of a metric, from its kind in the catalog (see the module documentation).
pub fn default_tolerance(metric: &str) -> Tolerance {
    catalog::lookup(metric)
        .map_or(MetricKind::Count, |d| d.kind)
        .tolerance()
}

/// The tolerances in force: the defaults, overridden by `--tolerance` rules.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tolerances {
    global: Option<Tolerance>,
    per_metric: BTreeMap<String, Tolerance>,
}

impl Tolerances {
    /// Parses `--tolerance` rules (`[METRIC=]VALUE[%]`, see the module documentation).
    pub fn parse(rules: &[String]) -> Result<Tolerances, String> {
        let mut t = Tolerances::default();
        for rule in rules {
            let (metric, value) = match rule.split_once('=') {
                Some((m, v)) => (Some(m.trim()), v.trim()),
                None => (None, rule.trim()),
            };
            if metric == Some("") {
                return Err(format!(
                    "--tolerance {rule:?}: the metric name before `=` is empty"
                ));
            }
            let (num, relative) = match value.strip_suffix('%') {
                Some(n) => (n.trim(), true),
                None => (value, false),
            };
            let v: f64 = num.parse().ok().filter(|v: &f64| v.is_finite() && *v >= 0.0).ok_or_else(|| {
                format!(
                    "--tolerance {rule:?}: {num:?} is not a number >= 0; expected [METRIC=]VALUE or [METRIC=]VALUE% (e.g. 0.01, 10%, api.availability=0.001)"
                )
            })?;
            let slot = match metric {
                Some(m) => t
                    .per_metric
                    .entry(m.to_string())
                    .or_insert(Tolerance { abs: 0.0, rel: 0.0 }),
                None => t.global.get_or_insert(Tolerance { abs: 0.0, rel: 0.0 }),
            };
            if relative {
                slot.rel = v / 100.0;
            } else {
                slot.abs = v;
            }
        }
        Ok(t)
    }

    /// The tolerance of `metric`: its own rule, else the global rule, else the default.
    pub fn for_metric(&self, metric: &str) -> Tolerance {
        self.per_metric
            .get(metric)
            .copied()
            .or(self.global)
            .unwrap_or_else(|| default_tolerance(metric))
    }
}

/// The contents of a baseline file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The scenario's name.
    pub scenario: String,
    /// The seed of a single run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The seeds of a sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds: Option<Vec<u64>>,
    /// True when every expectation held (on every seed).
    pub passed: bool,
    /// Metric values (the worst over the seeds for a sweep), rounded to 1e-6; null for a value that is not
    /// a finite number.
    pub metrics: BTreeMap<String, Option<f64>>,
}

impl Baseline {
    /// A baseline from a check's outcome: one seed gives `seed`, several give `seeds`.
    pub fn new(
        scenario: &str,
        seeds: &[u64],
        passed: bool,
        metrics: BTreeMap<String, Option<f64>>,
    ) -> Baseline {
        let (seed, seeds) = match seeds {
            [one] => (Some(*one), None),
            many => (None, Some(many.to_vec())),
        };
        Baseline {
            scenario: scenario.to_string(),
            seed,
            seeds,
            passed,
            metrics,
        }
    }

    /// The seeds it was recorded with.
    pub fn seed_list(&self) -> Vec<u64> {
        match (&self.seeds, self.seed) {
            (Some(s), _) => s.clone(),
            (None, Some(s)) => vec![s],
            (None, None) => Vec::new(),
        }
    }

    /// The file's text (pretty JSON with a final newline).
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

/// Where the baseline of scenario `name` lives in `dir`.
pub fn baseline_path(dir: &Path, name: &str) -> PathBuf {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}.baseline.json"))
}

/// Reads a baseline file: Ok(None) when it does not exist, Err with a readable message when it is not a
/// baseline.
pub fn load_baseline(path: &Path) -> Result<Option<Baseline>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: cannot read the baseline: {e}", path.display())),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        format!(
            "{}: not a baseline file ({e}); expected {{\"scenario\": NAME, \"seed\": N, \"passed\": BOOL, \"metrics\": {{...}}}}",
            path.display()
        )
    })
}

/// Which way a metric gets worse.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Worse {
    Lower,
    Higher,
    AwayFrom(f64),
}

fn direction(metric: &str, expectations: &[ExpectationPlan]) -> Worse {
    if let Some(e) = expectations.iter().find(|e| e.reads == metric) {
        match e.bound {
            Bound::AtLeast(_) => return Worse::Lower,
            Bound::AtMost(_)
            | Bound::RecoveredWithin(_)
            | Bound::FiresWithin(_)
            | Bound::NeverFires => return Worse::Higher,
            Bound::Equals(v) => return Worse::AwayFrom(v),
        }
    }
    match catalog::lookup(metric).map(|d| d.worse) {
        Some(CatalogWorse::Lower) => Worse::Lower,
        Some(CatalogWorse::Higher) | None => Worse::Higher,
    }
}

/// Each metric's worst value over the runs of a sweep, rounded as in `report.json`. Which way is worse
/// comes from the scenario's expectation on the metric (`at_least`: the smallest, `at_most`: the largest,
/// `equals`: the furthest from it), else from the catalog (availability, ratios and request counts: the
/// smallest; everything else, such as downtime, outages, leader changes, latencies, and names the catalog
/// does not know: the largest).
/// Values that are not finite numbers are ignored unless no run has a finite one (then null).
pub fn worst_metrics(
    runs: &[&Metrics],
    expectations: &[ExpectationPlan],
) -> BTreeMap<String, Option<f64>> {
    let mut out: BTreeMap<String, Option<f64>> = BTreeMap::new();
    for m in runs {
        for (name, &v) in m.iter() {
            let slot = out.entry(name.clone()).or_insert(None);
            if !v.is_finite() {
                continue;
            }
            let v = round(v);
            *slot = Some(match *slot {
                None => v,
                Some(w) => match direction(name, expectations) {
                    Worse::Lower => w.min(v),
                    Worse::Higher => w.max(v),
                    Worse::AwayFrom(t) => {
                        if (v - t).abs() > (w - t).abs() {
                            v
                        } else {
                            w
                        }
                    }
                },
            });
        }
    }
    out
}

/// One metric outside its tolerance.
#[derive(Clone, Debug, PartialEq)]
pub struct Drift {
    /// The metric.
    pub metric: String,
    /// Its baseline value (None: null in the baseline).
    pub baseline: Option<f64>,
    /// Its value now (None: missing, or not a finite number).
    pub now: Option<f64>,
    /// The drift allowed (None when one side has no value).
    pub allowed: Option<f64>,
}

/// The comparison of an outcome with its baseline.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BaselineDiff {
    /// Mismatches that make the comparison meaningless (another scenario's file, other seeds).
    pub problems: Vec<String>,
    /// Metrics beyond their tolerance.
    pub drifts: Vec<Drift>,
    /// Metrics the baseline does not have (not a failure).
    pub new_metrics: Vec<String>,
}

impl BaselineDiff {
    /// True when nothing drifted.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty() && self.drifts.is_empty()
    }

    /// The diff as readable lines.
    pub fn lines(&self) -> Vec<String> {
        let mut out = self.problems.clone();
        for d in &self.drifts {
            out.push(match (d.baseline, d.now, d.allowed) {
                (Some(b), Some(n), Some(a)) => format!(
                    "{}: baseline {} -> now {} ({}{}, allowed ±{})",
                    d.metric,
                    fmt_num(b),
                    fmt_num(n),
                    if n >= b { "+" } else { "" },
                    fmt_num(round(n - b)),
                    fmt_num(round(a))
                ),
                (b, n, _) => format!(
                    "{}: baseline {} -> now {}",
                    d.metric,
                    b.map(fmt_num).unwrap_or_else(|| "null".into()),
                    n.map(fmt_num).unwrap_or_else(|| "missing".into())
                ),
            });
        }
        for m in &self.new_metrics {
            out.push(format!(
                "{m}: new metric, not in the baseline (--update records it)"
            ));
        }
        out
    }
}

/// A number as short as it can be written (Rust's shortest round-trip formatting).
pub fn fmt_num(v: f64) -> String {
    format!("{v}")
}

/// Compares `now` with `baseline` metric by metric.
pub fn compare(baseline: &Baseline, now: &Baseline, tol: &Tolerances) -> BaselineDiff {
    let mut diff = BaselineDiff::default();
    if baseline.scenario != now.scenario {
        diff.problems.push(format!(
            "the baseline is for scenario {:?}, not {:?}",
            baseline.scenario, now.scenario
        ));
    }
    let (bs, ns) = (baseline.seed_list(), now.seed_list());
    if bs != ns {
        diff.problems.push(format!(
            "the baseline was recorded with seed(s) {}, this check ran {}; run with the same --seeds, or --update",
            seeds_text(&bs),
            seeds_text(&ns)
        ));
    }
    for (metric, &b) in &baseline.metrics {
        let n = now.metrics.get(metric).copied().flatten();
        let drift = match (b, n) {
            (Some(b), Some(n)) => {
                let allowed = tol.for_metric(metric).allowed(b);
                ((n - b).abs() > allowed + 1e-9).then_some(Some(allowed))
            }
            (None, None) if now.metrics.contains_key(metric) => None,
            _ => Some(None),
        };
        if let Some(allowed) = drift {
            diff.drifts.push(Drift {
                metric: metric.clone(),
                baseline: b,
                now: n,
                allowed,
            });
        }
    }
    diff.new_metrics = now
        .metrics
        .keys()
        .filter(|m| !baseline.metrics.contains_key(*m))
        .cloned()
        .collect();
    diff
}

/// A list of seeds, short: `7`, `1..200` for a run of consecutive seeds, else the first few.
pub fn seeds_text(seeds: &[u64]) -> String {
    match seeds {
        [] => "none".into(),
        [one] => one.to_string(),
        [first, .., last] if seeds.windows(2).all(|w| w[1] == w[0] + 1) => {
            format!("{first}..{last}")
        }
        _ if seeds.len() <= 5 => seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(","),
        _ => format!(
            "{},... ({} seeds)",
            seeds[..3]
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(","),
            seeds.len()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bl(seed: u64, metrics: &[(&str, f64)]) -> Baseline {
        Baseline::new(
            "s",
            &[seed],
            true,
            metrics
                .iter()
                .map(|(k, v)| (k.to_string(), Some(*v)))
                .collect(),
        )
    }

    #[test]
    fn default_tolerances_follow_metric_names() {
        assert_eq!(default_tolerance("api.availability").allowed(0.99), 0.005);
        assert_eq!(
            default_tolerance("workloads.ready_ratio").allowed(1.0),
            0.005
        );
        assert_eq!(default_tolerance("api.downtime_s").allowed(2.0), 0.5);
        assert!((default_tolerance("api.downtime_s").allowed(20.0) - 2.0).abs() < 1e-12);
        assert_eq!(default_tolerance("api.latency_p99_ms").allowed(1.0), 0.5);
        assert_eq!(default_tolerance("etcd.leader_changes").allowed(2.0), 1.0);
    }

    #[test]
    fn default_tolerances_and_directions_come_from_the_catalog() {
        use crate::observe::catalog::{Capability, Metric, Scope};
        for m in Metric::ALL {
            let d = m.def();
            let name = match d.scope {
                Scope::PerCapability => m.cap_key(Capability::Workloads),
                Scope::Run => m.key().to_string(),
                Scope::PerWorkload => m.workload_key("web"),
                Scope::PerLevel => m.level_key("workload-low"),
                Scope::PerAlert => m.alert_key("etcdNoLeader"),
            };
            assert_eq!(default_tolerance(&name), d.kind.tolerance(), "{name}");
            let worse = match d.worse {
                CatalogWorse::Lower => Worse::Lower,
                CatalogWorse::Higher => Worse::Higher,
            };
            assert_eq!(direction(&name, &[]), worse, "{name}");
        }
        // A name the catalog does not know is a count, whatever it ends with.
        assert_eq!(
            default_tolerance("made_up_s"),
            MetricKind::Count.tolerance()
        );
    }

    #[test]
    fn tolerance_rules_override_defaults() {
        let t = Tolerances::parse(&[
            "0".into(),
            "api.availability=0.01".into(),
            "api.downtime_s=20%".into(),
        ])
        .unwrap();
        assert_eq!(
            t.for_metric("etcd.leader_changes"),
            Tolerance { abs: 0.0, rel: 0.0 }
        );
        assert_eq!(
            t.for_metric("api.availability"),
            Tolerance {
                abs: 0.01,
                rel: 0.0
            }
        );
        assert_eq!(
            t.for_metric("api.downtime_s"),
            Tolerance { abs: 0.0, rel: 0.2 }
        );
        let both = Tolerances::parse(&["0.1".into(), "5%".into()]).unwrap();
        assert_eq!(
            both.for_metric("x"),
            Tolerance {
                abs: 0.1,
                rel: 0.05
            }
        );
        for bad in ["x", "-1", "=1", "a=", "1%%", "nan", "inf"] {
            assert!(Tolerances::parse(&[bad.to_string()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn compare_reports_drifts_missing_and_new_metrics() {
        let base = bl(
            7,
            &[
                ("api.availability", 0.999),
                ("etcd.leader_changes", 1.0),
                ("gone", 3.0),
            ],
        );
        let now = bl(
            7,
            &[
                ("api.availability", 0.97),
                ("etcd.leader_changes", 2.0),
                ("fresh", 1.0),
            ],
        );
        let d = compare(&base, &now, &Tolerances::default());
        assert!(!d.is_ok());
        let names: Vec<_> = d.drifts.iter().map(|d| d.metric.as_str()).collect();
        assert_eq!(names, ["api.availability", "gone"]);
        assert_eq!(d.new_metrics, ["fresh"]);
        let lines = d.lines().join("\n");
        assert!(
            lines.contains("api.availability: baseline 0.999 -> now 0.97 (-0.029, allowed ±0.005)"),
            "{lines}"
        );
        assert!(lines.contains("gone: baseline 3 -> now missing"), "{lines}");
        assert!(compare(&base, &base, &Tolerances::default()).is_ok());
    }

    #[test]
    fn compare_flags_other_seeds_and_other_scenarios() {
        let base = bl(7, &[("m", 1.0)]);
        let mut now = bl(8, &[("m", 1.0)]);
        now.scenario = "t".into();
        let d = compare(&base, &now, &Tolerances::default());
        assert_eq!(d.problems.len(), 2);
        assert!(d.drifts.is_empty());
    }

    #[test]
    fn baseline_files_round_trip_and_accept_seed_lists() {
        let b = Baseline::new(
            "a b/c",
            &[1, 2, 3],
            false,
            [("m".to_string(), None)].into_iter().collect(),
        );
        let back: Baseline = serde_json::from_slice(&b.to_json()).unwrap();
        assert_eq!(back, b);
        assert_eq!(back.seed_list(), [1, 2, 3]);
        assert_eq!(
            baseline_path(Path::new("d"), "a b/c"),
            Path::new("d/a_b_c.baseline.json")
        );
        let one: Baseline =
            serde_json::from_str(r#"{"scenario":"x","seed":4,"passed":true,"metrics":{"m":1}}"#)
                .unwrap();
        assert_eq!(one.seed_list(), [4]);
    }

    #[test]
    fn worst_metrics_take_the_failing_direction() {
        let a: Metrics = [
            ("api.availability", 0.99),
            ("api.downtime_s", 1.0),
            ("x", 5.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let b: Metrics = [
            ("api.availability", 0.95),
            ("api.downtime_s", 4.0),
            ("x", 2.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let exp = [
            ExpectationPlan::from_spec(&crate::scenario::model::Expectation {
                metric: "x".into(),
                equals: Some(4.0),
                ..Default::default()
            })
            .expect("one bound"),
        ];
        let w = worst_metrics(&[&a, &b], &exp);
        assert_eq!(w["api.availability"], Some(0.95));
        assert_eq!(w["api.downtime_s"], Some(4.0));
        assert_eq!(w["x"], Some(2.0));
    }

    #[test]
    fn seeds_text_is_short() {
        assert_eq!(seeds_text(&[7]), "7");
        assert_eq!(seeds_text(&[1, 2, 3, 4]), "1..4");
        assert_eq!(seeds_text(&[5, 9]), "5,9");
        assert_eq!(seeds_text(&[9, 1, 4, 7, 2, 8]), "9,1,4,... (6 seeds)");
    }
}
