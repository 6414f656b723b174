//! Statistics of a seed sweep: for each expectation, the worst seed (the one furthest on the failing side
//! of its bound) and percentiles of the metric over the seeds.

use crate::scenario::plan::ExpectationPlan;

/// One seed's value of an expectation's metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeedValue {
    /// The seed.
    pub seed: u64,
    /// The metric's value; None when the run did not produce the metric.
    pub actual: Option<f64>,
    /// The verdict of the expectation on this seed (`run::judge`).
    pub passed: bool,
}

/// Nearest-rank percentiles of a metric over the seeds that produced a finite value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Percentiles {
    /// How many values.
    pub count: usize,
    /// The smallest value.
    pub min: f64,
    /// The 10th percentile.
    pub p10: f64,
    /// The median.
    pub p50: f64,
    /// The 90th percentile.
    pub p90: f64,
    /// The largest value.
    pub max: f64,
}

impl Percentiles {
    /// The percentiles of `values` (non-finite values are left out); None when nothing is left.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Percentiles> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| -> f64 {
            let n = v.len();
            let k = ((p / 100.0) * n as f64).ceil() as usize;
            v[k.clamp(1, n) - 1]
        };
        Some(Percentiles {
            count: v.len(),
            min: v[0],
            p10: rank(10.0),
            p50: rank(50.0),
            p90: rank(90.0),
            max: v[v.len() - 1],
        })
    }
}

/// How an expectation fared over all the seeds it ran with.
#[derive(Clone, Debug)]
pub struct ExpectationSummary {
    /// The expectation.
    pub expectation: ExpectationPlan,
    /// The bound as text (`>= 0.99`).
    pub bound: String,
    /// True when it held on every seed.
    pub passed: bool,
    /// How many seeds it ran with.
    pub seeds: usize,
    /// How many of them failed it.
    pub failed_seeds: usize,
    /// The worst seed: a failing one if any, the one furthest on the failing side of the bound (the
    /// smallest value for `at_least`, the largest for `at_most`, the furthest from `equals`; a missing
    /// metric is the worst of all); the earliest seed wins a tie.
    pub worst_seed: u64,
    /// The metric's value on the worst seed.
    pub worst_value: Option<f64>,
    /// Percentiles over the seeds.
    pub stats: Option<Percentiles>,
}

/// Summarizes an expectation over its seeds (`values` in the order the seeds were given; not empty).
pub fn summarize(e: &ExpectationPlan, bound: String, values: &[SeedValue]) -> ExpectationSummary {
    let failed_seeds = values.iter().filter(|v| !v.passed).count();
    // The worst: failing before passing, then the largest badness; the first seed wins a tie.
    let mut worst: Option<(&SeedValue, f64)> = None;
    for v in values {
        let b = e.badness(v.actual);
        let better = match worst {
            None => true,
            Some((w, wb)) => (!v.passed && w.passed) || (v.passed == w.passed && b > wb),
        };
        if better {
            worst = Some((v, b));
        }
    }
    let (worst_seed, worst_value) = worst.map(|(v, _)| (v.seed, v.actual)).unwrap_or((0, None));
    // With `percentile`, the bound applies to that percentile over the seeds, taken on the failing
    // side (the high tail for `at_most`, the low tail for `at_least`), not to every seed.
    let passed = match e.percentile {
        Some(p) if !values.is_empty() => {
            let mut b: Vec<f64> = values.iter().map(|v| e.badness(v.actual)).collect();
            b.sort_by(|x, y| x.total_cmp(y));
            let rank = ((p / 100.0) * b.len() as f64).ceil() as usize;
            b[rank.clamp(1, b.len()) - 1] <= 1e-9
        }
        _ => failed_seeds == 0 && !values.is_empty(),
    };
    ExpectationSummary {
        expectation: e.clone(),
        bound,
        passed,
        seeds: values.len(),
        failed_seeds,
        worst_seed,
        worst_value,
        stats: Percentiles::of(values.iter().filter_map(|v| v.actual)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(at_least: Option<f64>, at_most: Option<f64>, equals: Option<f64>) -> ExpectationPlan {
        ExpectationPlan::from_spec(&crate::scenario::model::Expectation {
            metric: "m".into(),
            at_least,
            at_most,
            equals,
            ..Default::default()
        })
        .expect("one bound")
    }

    fn sv(seed: u64, actual: f64, passed: bool) -> SeedValue {
        SeedValue {
            seed,
            actual: Some(actual),
            passed,
        }
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let p = Percentiles::of((1..=10).map(f64::from)).unwrap();
        assert_eq!(
            (p.min, p.p10, p.p50, p.p90, p.max, p.count),
            (1.0, 1.0, 5.0, 9.0, 10.0, 10)
        );
        let one = Percentiles::of([3.0]).unwrap();
        assert_eq!((one.min, one.p50, one.p90, one.max), (3.0, 3.0, 3.0, 3.0));
        assert!(Percentiles::of([f64::NAN]).is_none());
    }

    #[test]
    fn worst_is_on_the_failing_side_of_each_kind_of_bound() {
        let vals = [
            sv(1, 0.5, true),
            sv(2, 0.2, false),
            sv(3, 0.9, true),
            sv(4, 0.1, false),
        ];
        let s = summarize(&exp(Some(0.3), None, None), ">= 0.3".into(), &vals);
        assert_eq!(
            (s.worst_seed, s.worst_value, s.failed_seeds, s.passed),
            (4, Some(0.1), 2, false)
        );
        let vals = [sv(1, 0.5, true), sv(2, 0.9, true), sv(3, 0.9, true)];
        let s = summarize(&exp(None, Some(1.0), None), "<= 1".into(), &vals);
        assert_eq!(
            (s.worst_seed, s.worst_value, s.passed),
            (2, Some(0.9), true)
        );
        let vals = [sv(1, 5.0, true), sv(2, 3.0, false), sv(3, 8.0, false)];
        let s = summarize(&exp(None, None, Some(5.0)), "== 5".into(), &vals);
        assert_eq!((s.worst_seed, s.worst_value), (3, Some(8.0)));
    }

    #[test]
    fn a_missing_metric_is_the_worst() {
        let vals = [
            sv(1, 0.0, false),
            SeedValue {
                seed: 2,
                actual: None,
                passed: false,
            },
        ];
        let s = summarize(&exp(Some(1.0), None, None), ">= 1".into(), &vals);
        assert_eq!((s.worst_seed, s.worst_value), (2, None));
        assert_eq!(s.stats.unwrap().count, 1);
    }
}
