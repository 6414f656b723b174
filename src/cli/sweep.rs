//! `kube-ha-sim sweep FILE --vary PATH=A..B[:STEP]`: runs a scenario at every value of one field (a
//! load, a number of API servers...), with everything up and with one control-plane node lost, and
//! reports the largest value that keeps the Kubernetes API SLOs (mutating and read-only
//! single-object calls, each p99 <= 1 s, kubernetes/community sig-scalability/slos): a table, `sweep.json` and a sizing curve
//! (`sizing.svg`). Runs go in parallel across cores and are merged in a fixed order, so the answer does
//! not depend on the machine.

use super::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};
use crate::observe::catalog::Metric;
use crate::scenario::{plan_scenario, Plan, Scenario};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The SLO bound on `api.mutating_latency_p99_ms`.
pub const SLO_MUTATING_P99_MS: f64 = 1000.0;
/// The SLO bound on `api.readonly_latency_p99_ms` (single-object reads, as for writes).
pub const SLO_READONLY_P99_MS: f64 = 1000.0;
/// The most points one sweep runs.
pub const MAX_POINTS: usize = 200;

/// `sweep`'s arguments.
#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// The scenario file (JSON or YAML).
    pub file: PathBuf,
    /// The field to vary and its range: `PATH=A..B[:STEP]`, e.g. `load.requests_per_second=1000..20000:1000`
    /// or `topology.control_plane_nodes=2..5`.
    #[arg(long)]
    pub vary: String,
    /// Overrides the file's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output folder (default: out/SCENARIO-NAME-sweep).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Runs at once (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// What the failure half of the sweep crashes from the start: a node (`cp-1`, `lb-1`), a zone
    /// (`zone:a`) or a process (`cp-1/kube-apiserver`), as a fault's `target`.
    #[arg(long, value_name = "TARGET", default_value = "cp-1")]
    pub lose: String,
}

/// A parsed `--vary`.
#[derive(Clone, Debug, PartialEq)]
pub struct Vary {
    pub path: Vec<String>,
    pub values: Vec<f64>,
    /// A, B and STEP are whole numbers: the values are written as integers.
    pub integral: bool,
}

/// Parses `PATH=A..B[:STEP]`.
pub fn parse_vary(s: &str) -> Result<Vary, String> {
    let usage = "expected PATH=A..B[:STEP], e.g. load.requests_per_second=1000..20000:1000";
    let (path, range) = s.split_once('=').ok_or(format!("--vary {s:?}: {usage}"))?;
    let (range, step) = match range.split_once(':') {
        Some((r, st)) => (r, Some(st)),
        None => (range, None),
    };
    let (a, b) = range
        .split_once("..")
        .ok_or(format!("--vary {s:?}: {usage}"))?;
    let num = |t: &str| -> Result<f64, String> {
        t.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or(format!(
                "--vary {s:?}: {t:?} is not a number (allowed: numbers from 0)"
            ))
    };
    let (a, b) = (num(a)?, num(b)?);
    let step = match step {
        Some(t) => num(t)?,
        None => 1.0,
    };
    if b < a || step <= 0.0 {
        return Err(format!(
            "--vary {s:?}: the range must go up (A <= B) with a step above 0"
        ));
    }
    let n = ((b - a) / step + 1e-9).floor() as usize + 1;
    if n > MAX_POINTS {
        return Err(format!(
            "--vary {s:?}: {n} points; allowed: at most {MAX_POINTS} (raise the step)"
        ));
    }
    let path: Vec<String> = path.split('.').map(str::to_string).collect();
    if path.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "--vary {s:?}: the path names a field with dots, e.g. load.requests_per_second"
        ));
    }
    Ok(Vary {
        path,
        values: (0..n).map(|i| a + step * i as f64).collect(),
        integral: [a, b, step].iter().all(|v| v.fract() == 0.0),
    })
}

/// One run of the sweep.
#[derive(Clone, Debug)]
struct Point {
    value: f64,
    lost: bool,
    plan: Plan,
}

/// One run's figures.
#[derive(Clone, Debug)]
struct Figures {
    value: f64,
    lost: bool,
    metrics: Option<crate::observe::metrics::Metrics>,
    error: Option<String>,
}

impl Figures {
    fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.as_ref().and_then(|m| m.get(name).copied())
    }

    /// The SLOs held: mutating and read-only p99 each within 1 s (a failed call counts at the
    /// load's timeout). A load of writes only has no reads: their p99 is 0.
    fn slo(&self) -> bool {
        self.metric(Metric::ApiMutatingLatencyP99.key())
            .is_some_and(|p| p <= SLO_MUTATING_P99_MS)
            && self
                .metric(Metric::ApiReadonlyLatencyP99.key())
                .is_some_and(|p| p <= SLO_READONLY_P99_MS)
    }
}

/// The scenario with `vary` set to `value`, and with `lose` (`--lose`, cp-1 by default) crashed from
/// the start when `lost`; its own expectations dropped (the sweep judges the SLO).
fn variant(base: &Value, vary: &Vary, value: f64, lost: Option<&str>) -> Value {
    let mut v = base.clone();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("expect".into(), json!([]));
    }
    let mut at = &mut v;
    for (i, key) in vary.path.iter().enumerate() {
        if !at.is_object() {
            *at = json!({});
        }
        let Some(obj) = at.as_object_mut() else {
            break;
        };
        if i + 1 == vary.path.len() {
            let n = if vary.integral {
                json!(value as u64)
            } else {
                json!(value)
            };
            obj.insert(key.clone(), n);
            break;
        }
        at = obj.entry(key.clone()).or_insert(json!({}));
    }
    if let Some(target) = lost {
        if let Some(obj) = v.as_object_mut() {
            let faults = obj.entry("faults").or_insert(json!([]));
            if let Some(list) = faults.as_array_mut() {
                list.push(json!({ "at": "0s", "kind": "crash", "target": target }));
            }
        }
    }
    v
}

fn read_base(file: &Path) -> Result<Value, String> {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("{name}: cannot read the scenario file: {e}"))?;
    // The file must be a valid scenario as it is.
    crate::scenario::parse_scenario(&text, &name).map_err(|e| e.to_string())?;
    if crate::scenario::yaml::is_yaml(&name) {
        crate::scenario::yaml::to_json(&text, &name)
            .map(|(v, _)| v)
            .map_err(|e| e.to_string())
    } else {
        serde_json::from_str(&text).map_err(|e| format!("{name}: {e}"))
    }
}

/// The runs of the sweep, validated before any starts.
fn points(file: &Path, vary: &Vary, lose: &str) -> Result<Vec<Point>, String> {
    let base = read_base(file)?;
    let mut out = Vec::new();
    for &value in &vary.values {
        for lost in [false, true] {
            let v = variant(&base, vary, value, lost.then_some(lose));
            let label = format!(
                "{} with {}={value}{}",
                file.display(),
                vary.path.join("."),
                if lost {
                    format!(" and {lose} lost (--lose)")
                } else {
                    String::new()
                }
            );
            let scenario: Scenario = serde_path_to_error::deserialize(&v)
                .map_err(|e| format!("{label}: field `{}`: {}", e.path(), e.inner()))?;
            let plan = plan_scenario(&scenario, &label).map_err(|e| e.to_string())?;
            out.push(Point { value, lost, plan });
        }
    }
    Ok(out)
}

/// The largest value up to which every run kept the SLO (None: the first already missed it).
fn largest_within_slo(figs: &[Figures], lost: bool) -> Option<f64> {
    let mut best = None;
    for f in figs.iter().filter(|f| f.lost == lost) {
        if !f.slo() {
            break;
        }
        best = Some(f.value);
    }
    best
}

/// Runs the sweep.
pub fn cmd_sweep(args: SweepArgs) -> i32 {
    let vary = match parse_vary(&args.vary) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let pts = match points(&args.file, &vary, &args.lose) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let name = pts[0].plan.name.clone();
    let seed = args.seed.unwrap_or(pts[0].plan.seed);
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(format!("{name}-sweep")));
    // Prepared before the runs, so that a folder that cannot be written fails at once.
    let staged = match crate::report::OutputDir::begin(&dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let figs = run_points(&pts, seed, jobs);
    let path = vary.path.join(".");
    out!("{}", table(&figs, &path));
    let up = largest_within_slo(&figs, false);
    let lost = largest_within_slo(&figs, true);
    let show = |v: Option<f64>| v.map_or("none of the range".to_string(), |v| format!("{v}"));
    outln!(
        "largest {path} within the SLO (mutating p99 <= 1s): everything up {}, {} lost {}",
        show(up),
        args.lose,
        show(lost)
    );
    let report = json!({
        "scenario": name,
        "seed": seed,
        "version": env!("CARGO_PKG_VERSION"),
        "vary": path,
        "slo": { "metric": Metric::ApiMutatingLatencyP99.key(), "at_most": SLO_MUTATING_P99_MS,
                 "readonly_metric": Metric::ApiReadonlyLatencyP99.key(), "readonly_at_most": SLO_READONLY_P99_MS },
        "lost": args.lose,
        "largest_within_slo": { "all_up": up, "one_cp_node_lost": lost },
        "points": figs.iter().map(|f| json!({
            "value": f.value,
            "one_cp_node_lost": f.lost,
            "slo_met": f.slo(),
            "error": f.error,
            "metrics": f.metrics,
        })).collect::<Vec<_>>(),
    });
    let written = staged
        .write(
            "sweep.json",
            &serde_json::to_vec_pretty(&report).unwrap_or_default(),
        )
        .and_then(|()| staged.write("sizing.svg", sizing_svg(&figs, &path).as_bytes()))
        .and_then(|()| staged.commit());
    if let Err(e) = written {
        eprintln!("error: {e}");
        return EXIT_BAD_INPUT;
    }
    outln!(
        "report: {} (and sizing.svg)",
        dir.join("sweep.json").display()
    );
    if figs.iter().any(|f| f.error.is_some()) {
        return EXIT_FAILED;
    }
    EXIT_OK
}

/// Where a sweep's measurement starts: after the warm-up and after the first half of the run (both
/// variants alike: the first half holds the boot, the backlog of requests the booting cluster could
/// not serve, and, with a node lost, the load balancers' checks
/// marking it down; the SLO is about the steady state after that).
fn measured_from(o: &crate::run::Outcome) -> u64 {
    o.warmup_ns.unwrap_or(0).max(o.end_ns / 2)
}

fn run_points(pts: &[Point], seed: u64, jobs: usize) -> Vec<Figures> {
    crate::capacity::costs::parallel_map(
        pts,
        jobs,
        |p| match crate::run::run(&p.plan, seed) {
            Ok(o) => Figures {
                value: p.value,
                lost: p.lost,
                metrics: Some(o.metrics_between(measured_from(&o), o.end_ns)),
                error: None,
            },
            Err(e) => Figures {
                value: p.value,
                lost: p.lost,
                metrics: None,
                error: Some(e.to_string()),
            },
        },
        |done, total| eprint!("\r{done}/{total} runs"),
    )
}

fn table(figs: &[Figures], path: &str) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    eprintln!();
    let _ = writeln!(
        s,
        "{:>12}  {:>9}  {:>14}  {:>14}  {:>10}  {:>10}  {:>11}  {:>11}  SLO",
        path.rsplit('.').next().unwrap_or(path),
        "cp lost",
        "mutating p99",
        "read-only p99",
        "429s",
        "saturated",
        "api util",
        "etcd util"
    );
    for f in figs {
        let g = |m: Metric| f.metric(m.key()).unwrap_or(f64::NAN);
        let _ = writeln!(
            s,
            "{:>12}  {:>9}  {:>11.1} ms  {:>11.1} ms  {:>10.0}  {:>8.0} s  {:>10.0}%  {:>10.0}%  {}",
            f.value,
            if f.lost { "1" } else { "0" },
            g(Metric::ApiMutatingLatencyP99),
            g(Metric::ApiReadonlyLatencyP99),
            g(Metric::ApiThrottled),
            g(Metric::ApiSaturated),
            100.0 * g(Metric::ApiServerUtilization),
            100.0 * g(Metric::EtcdUtilization),
            match (&f.error, f.slo()) {
                (Some(e), _) => format!("error: {e}"),
                (None, true) => "met".into(),
                (None, false) => "MISSED".into(),
            }
        );
    }
    s
}

/// The sizing curve: mutating p99 (log scale) against the varied value, everything up and one
/// control-plane node lost, with the SLO line.
fn sizing_svg(figs: &[Figures], path: &str) -> String {
    let (w, h, l, r, t, b) = (720.0, 420.0, 70.0, 20.0, 40.0, 50.0);
    let xs: Vec<f64> = figs.iter().map(|f| f.value).collect();
    let (x0, x1) = (
        xs.iter().cloned().fold(f64::INFINITY, f64::min),
        xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
    );
    let (y0, y1) = (1.0f64.log10(), 100_000.0f64.log10());
    let px = |x: f64| l + (x - x0) / (x1 - x0).max(1e-9) * (w - l - r);
    let py = |y: f64| {
        let v = y.clamp(1.0, 100_000.0).log10();
        h - b - (v - y0) / (y1 - y0) * (h - t - b)
    };
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{l}\" y=\"22\" font-size=\"14\">Sizing: mutating p99 against {}</text>\n",
        escape(path)
    );
    for ms in [1.0, 10.0, 100.0, 1000.0, 10_000.0, 100_000.0] {
        let y = py(ms);
        let style = if ms == SLO_MUTATING_P99_MS {
            "stroke=\"#c00\" stroke-dasharray=\"6 4\""
        } else {
            "stroke=\"#ddd\""
        };
        s += &format!(
            "<line x1=\"{l}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" {style}/>\n<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{ms} ms</text>\n",
            w - r,
            l - 6.0,
            y + 4.0
        );
    }
    s += &format!(
        "<text x=\"{}\" y=\"{:.1}\" fill=\"#c00\">SLO 1 s</text>\n",
        w - r - 50.0,
        py(SLO_MUTATING_P99_MS) - 4.0
    );
    for (i, x) in xs.iter().enumerate().filter(|(i, _)| i % 4 == 0) {
        let _ = i;
        s += &format!(
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{x}</text>\n",
            px(*x),
            h - b + 18.0
        );
    }
    s += &format!(
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
        (l + w - r) / 2.0,
        h - 8.0,
        escape(path)
    );
    for (lost, colour, label) in [
        (false, "#1f77b4", "everything up"),
        (true, "#d62728", "one control-plane node lost"),
    ] {
        let pts: Vec<String> = figs
            .iter()
            .filter(|f| f.lost == lost)
            .filter_map(|f| {
                f.metric(Metric::ApiMutatingLatencyP99.key())
                    .map(|y| format!("{:.1},{:.1}", px(f.value), py(y)))
            })
            .collect();
        s += &format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\n",
            pts.join(" ")
        );
        let ly = if lost { t + 18.0 } else { t + 2.0 };
        s += &format!(
            "<line x1=\"{}\" x2=\"{}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{colour}\" stroke-width=\"2\"/><text x=\"{}\" y=\"{}\">{label}</text>\n",
            l + 10.0,
            l + 30.0,
            l + 36.0,
            ly + 4.0
        );
    }
    s + "</svg>\n"
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary_ranges_parse_with_their_steps_and_limits() {
        let v = parse_vary("load.requests_per_second=1000..5000:1000").unwrap();
        assert_eq!(v.values, vec![1000.0, 2000.0, 3000.0, 4000.0, 5000.0]);
        assert!(v.integral);
        assert_eq!(v.path, vec!["load", "requests_per_second"]);
        let v = parse_vary("load.write_ratio=0.1..0.3:0.1").unwrap();
        assert_eq!(v.values.len(), 3);
        assert!(!v.integral);
        assert!(parse_vary("load.requests_per_second=5..1").is_err());
        assert!(parse_vary("load.requests_per_second").is_err());
        assert!(parse_vary("x=1..100000:1").is_err());
        assert!(parse_vary("x=a..3").is_err());
    }

    /// The SLOs hold only while both p99s are within 1 s: slow reads miss them even when the
    /// writes are fast, and slow writes when the reads are.
    #[test]
    fn the_slo_needs_both_the_mutating_and_the_read_only_p99() {
        let point = |mutating: f64, readonly: f64| Figures {
            value: 1.0,
            lost: false,
            metrics: Some(
                [
                    (Metric::ApiMutatingLatencyP99.key().to_string(), mutating),
                    (Metric::ApiReadonlyLatencyP99.key().to_string(), readonly),
                ]
                .into_iter()
                .collect(),
            ),
            error: None,
        };
        assert!(point(20.0, 8.0).slo());
        assert!(!point(20.0, 1500.0).slo());
        assert!(!point(1500.0, 8.0).slo());
    }
}
