//! Expectations as validation builds them: the metric an expectation reads, its bound as one enum
//! (`at_least`, `at_most`, `equals` or `recovered_within`, exactly one), its window and its percentile.
//! Judging, the bound's text and "how far on the failing side" live here, once.

use super::model::Expectation;
use crate::engine::{fmt_duration, Nanos};
use std::collections::BTreeMap;

/// The bound an expectation puts on its metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    /// `at_least`: the metric must not fall below this.
    AtLeast(f64),
    /// `at_most`: the metric must not exceed this.
    AtMost(f64),
    /// `equals`: the metric must be this (within a few ulps).
    Equals(f64),
    /// `recovered_within`: after each fault, the capability is back up for good within this long.
    RecoveredWithin(Nanos),
    /// `fires_within`: the alert fires within this long of the first fault's start.
    FiresWithin(Nanos),
    /// `never_fires`: the alert never fires.
    NeverFires,
}

/// Comparisons allow a few ulps so that 0.1 + 0.2 style sums do not flip verdicts.
const EPS: f64 = 1e-9;

impl Bound {
    /// How far `actual` lies on the failing side: positive beyond the bound, the (negative) margin
    /// within it.
    pub fn excess(self, actual: f64) -> f64 {
        match self {
            Bound::AtLeast(b) => b - actual,
            Bound::AtMost(b) => actual - b,
            Bound::Equals(b) => (actual - b).abs(),
            Bound::RecoveredWithin(d) | Bound::FiresWithin(d) => actual - d as f64 / 1e9,
            Bound::NeverFires => actual,
        }
    }

    /// Whether `actual` meets the bound.
    pub fn holds(self, actual: f64) -> bool {
        match self {
            Bound::Equals(b) => (actual - b).abs() <= EPS.max(b.abs() * 1e-9),
            Bound::AtLeast(_)
            | Bound::AtMost(_)
            | Bound::RecoveredWithin(_)
            | Bound::FiresWithin(_)
            | Bound::NeverFires => self.excess(actual) <= EPS,
        }
    }

    /// The bound as text: `>= 0.99`, `recovered within 30s`.
    pub fn text(self) -> String {
        match self {
            Bound::AtLeast(v) => format!(">= {v}"),
            Bound::AtMost(v) => format!("<= {v}"),
            Bound::Equals(v) => format!("== {v}"),
            Bound::RecoveredWithin(d) => format!("recovered within {}", fmt_duration(d)),
            Bound::FiresWithin(d) => format!("fires within {} of the first fault", fmt_duration(d)),
            Bound::NeverFires => "never fires".to_string(),
        }
    }
}

/// One expectation of the plan.
#[derive(Clone, Debug)]
pub struct ExpectationPlan {
    /// The metric as the file names it (`api` for a `recovered_within`).
    pub metric: String,
    /// The metric the bound reads (`api.recovery_s` for `api` with `recovered_within`).
    pub reads: String,
    pub bound: Bound,
    /// Measure over `[from, to]` of the run instead of from the warm-up to the end.
    pub window_ns: Option<(Nanos, Nanos)>,
    /// In a seed sweep, bound this percentile of the metric over the seeds.
    pub percentile: Option<f64>,
}

impl ExpectationPlan {
    /// The plan of a validated mirror (exactly one bound given; validation checks that first).
    pub fn from_spec(e: &Expectation) -> Option<ExpectationPlan> {
        if let Some(alert) = &e.alert {
            use crate::observe::catalog::Metric;
            let (bound, reads) = match (e.fires_within, e.never_fires) {
                (Some(d), None) => (
                    Bound::FiresWithin(d.ns()),
                    Metric::AlertDetect.alert_key(alert),
                ),
                (None, Some(true)) => (Bound::NeverFires, Metric::AlertFirings.alert_key(alert)),
                _ => return None,
            };
            return Some(ExpectationPlan {
                metric: alert.clone(),
                reads,
                bound,
                window_ns: e.window.map(|[a, b]| (a.ns(), b.ns())),
                percentile: e.percentile,
            });
        }
        let bound = match (e.recovered_within, e.at_least, e.at_most, e.equals) {
            (Some(d), None, None, None) => Bound::RecoveredWithin(d.ns()),
            (None, Some(v), None, None) => Bound::AtLeast(v),
            (None, None, Some(v), None) => Bound::AtMost(v),
            (None, None, None, Some(v)) => Bound::Equals(v),
            _ => return None,
        };
        let reads = match bound {
            Bound::RecoveredWithin(_) if !e.metric.ends_with(".recovery_s") => {
                format!("{}.recovery_s", e.metric)
            }
            Bound::RecoveredWithin(_)
            | Bound::AtLeast(_)
            | Bound::AtMost(_)
            | Bound::Equals(_)
            | Bound::FiresWithin(_)
            | Bound::NeverFires => e.metric.clone(),
        };
        Some(ExpectationPlan {
            metric: e.metric.clone(),
            reads,
            bound,
            window_ns: e.window.map(|[a, b]| (a.ns(), b.ns())),
            percentile: e.percentile,
        })
    }

    /// The bound as text with its window and percentile: `>= 0.99 in [1m, 3m] (p90 over seeds)`.
    pub fn bound_text(&self) -> String {
        if let Bound::RecoveredWithin(_) | Bound::FiresWithin(_) | Bound::NeverFires = self.bound {
            return self.bound.text();
        }

        let window = match self.window_ns {
            Some((a, b)) => format!(" in [{}, {}]", fmt_duration(a), fmt_duration(b)),
            None => String::new(),
        };
        let pct = match self.percentile {
            Some(p) => format!(" (p{p} over seeds)"),
            None => String::new(),
        };
        format!("{}{window}{pct}", self.bound.text())
    }

    /// Whether it is about an alert (`metric` is then the alert's name).
    pub fn is_alert(&self) -> bool {
        match self.bound {
            Bound::FiresWithin(_) | Bound::NeverFires => true,
            Bound::AtLeast(_) | Bound::AtMost(_) | Bound::Equals(_) | Bound::RecoveredWithin(_) => {
                false
            }
        }
    }

    /// The metric's value in `metrics` and whether it meets the bound (a missing metric fails).
    pub fn judge(&self, metrics: &BTreeMap<String, f64>) -> (Option<f64>, bool) {
        let actual = metrics.get(&self.reads).copied();
        (actual, actual.is_some_and(|a| self.bound.holds(a)))
    }

    /// How far `actual` lies on the failing side of the bound; infinite when the metric is missing or
    /// not a number.
    pub fn badness(&self, actual: Option<f64>) -> f64 {
        match actual {
            Some(a) if !a.is_nan() => self.bound.excess(a),
            _ => f64::INFINITY,
        }
    }

    /// The expectation as `report.json` writes it: the metric and its bound field.
    pub fn to_spec(&self) -> Expectation {
        let mut e = Expectation {
            metric: self.metric.clone(),
            window: self
                .window_ns
                .map(|(a, b)| [super::model::Dur(a), super::model::Dur(b)]),
            percentile: self.percentile,
            ..Expectation::default()
        };
        match self.bound {
            Bound::AtLeast(v) => e.at_least = Some(v),
            Bound::AtMost(v) => e.at_most = Some(v),
            Bound::Equals(v) => e.equals = Some(v),
            Bound::RecoveredWithin(d) => e.recovered_within = Some(super::model::Dur(d)),
            Bound::FiresWithin(d) => {
                e.alert = Some(std::mem::take(&mut e.metric));
                e.fires_within = Some(super::model::Dur(d));
            }
            Bound::NeverFires => {
                e.alert = Some(std::mem::take(&mut e.metric));
                e.never_fires = Some(true);
            }
        }
        e
    }
}
