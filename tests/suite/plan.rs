//! `kube-ha-sim plan` (issue 13): agreement with the closed forms, the simulated failure process against
//! the exact chain, determinism, bad plan files, and plans left out of `check`'s folder walk.

use kube_ha_sim::capacity::model::parse_plan;
use kube_ha_sim::capacity::report::{design_result, DesignResult};
use kube_ha_sim::capacity::{analyse, Quiet, Warmups};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_kube-ha-sim");

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kube-ha-sim-plan-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// An external etcd cluster of `n` members whose members alone fail (one control-plane node, one load
/// balancer, one zone), with `crews`.
fn etcd_plan(n: u32, crews: &str, years: u64) -> String {
    format!(
        r#"{{"name": "etcd-{n}", "seed": 3, "years": {years}, "transition_samples": 2,
            "base": {{"duration": "1h", "topology": {{"etcd": "external", "control_plane_nodes": 1,
                      "etcd_nodes": {n}}}}},
            "failures": [{{"class": "etcd", "mttf": "2000h", "mttr": "8h"}}],
            "repair": {{"crews": {crews}}}}}"#
    )
}

fn analyse_text(text: &str, years: u64) -> Vec<DesignResult> {
    let plan = parse_plan(text, "t.json", Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    let a = analyse(&plan, years, plan.seed, Warmups::PerRun, 2, &Quiet).unwrap();
    a.iter().map(|d| design_result(d, years as f64)).collect()
}

fn binomial(n: u64, k: u64) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// Sum over k <= n/2 members up of C(n, k) p^k (1-p)^(n-k), p = MTTF / (MTTF + MTTR).
fn closed_form(n: u64, mttf: f64, mttr: f64) -> f64 {
    let p = mttf / (mttf + mttr);
    (0..=n / 2)
        .map(|k| binomial(n, k) * p.powi(k as i32) * (1.0 - p).powi((n - k) as i32))
        .sum()
}

fn metric(r: &DesignResult, name: &str) -> f64 {
    *r.metrics
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing; have {:?}", r.metrics.keys()))
}

#[test]
fn the_closed_forms_are_the_issues_figures() {
    assert!((closed_form(3, 2000.0, 8.0) / 4.749e-5 - 1.0).abs() < 1e-3);
    assert!((closed_form(5, 2000.0, 8.0) / 6.29e-7 - 1.0).abs() < 1e-3);
}

/// The mode part of etcd_quorum's unavailability (a majority of members down, from the failure
/// process) agrees with the binomial closed form; the election after each leader loss is reported on
/// its own as transition downtime.
#[test]
fn majority_quorum_with_per_node_repair_matches_the_closed_form() {
    for n in [3u64, 5] {
        let r = &analyse_text(&etcd_plan(n as u32, "\"per-node\"", 20_000), 20_000)[0];
        assert_eq!(r.method, "markov");
        let u = metric(r, "etcd_quorum.mode_unavailability");
        let want = closed_form(n, 2000.0, 8.0);
        eprintln!("n={n}: mode unavailability {u:e}, closed form {want:e}");
        assert!((u / want - 1.0).abs() < 0.02, "n={n}: {u:e} vs {want:e}");
        let elections = metric(r, "etcd_quorum.transition_downtime_min_per_year");
        assert!(elections > 0.0 && elections < 5.0, "{elections}");
        // The simulated years agree with the chain within their confidence interval for n = 3, where
        // quorum losses are frequent enough to be met a few thousand times.
        let sim = metric(r, "etcd_quorum.simulated_availability");
        let exact = metric(r, "etcd_quorum.availability");
        eprintln!("n={n}: availability {exact} (chain), {sim} (20,000 simulated years), elections {elections} min/yr");
        if n == 3 {
            // Mean time to the first quorum loss from all up: the birth-death chain's first passage,
            // m = (mu + 2 lambda) / (6 lambda^2) + 1 / (2 lambda) = 85,000 h.
            let (l, m) = (1.0 / 2000.0, 1.0 / 8.0);
            let want = (m + 2.0 * l) / (6.0 * l * l) + 1.0 / (2.0 * l);
            let exact = metric(r, "etcd_quorum.mttf_h");
            let sim = metric(r, "etcd_quorum.simulated_mttf_h");
            eprintln!(
                "n=3: time to first quorum loss {exact} h (chain), {sim} h (simulated), {want} h"
            );
            assert!((exact / want - 1.0).abs() < 1e-6, "{exact} vs {want}");
            assert!((sim / want - 1.0).abs() < 0.1, "{sim} vs {want}");
            assert!(
                ((1.0 - sim) / (1.0 - exact) - 1.0).abs() < 0.1,
                "{sim} vs {exact}"
            );
        }
    }
}

/// With one shared crew the members wait for each other's repair: the birth-death chain's
/// stationary solution, (3 down-rate, one repair at a time) gives 9.52e-5.
#[test]
fn majority_quorum_with_one_shared_crew_matches_the_markov_chain() {
    let (l, m) = (1.0 / 2000.0, 1.0 / 8.0);
    let w = [
        1.0,
        3.0 * l / m,
        6.0 * l * l / (m * m),
        6.0 * l * l * l / (m * m * m),
    ];
    let want = (w[2] + w[3]) / w.iter().sum::<f64>();
    assert!((want / 9.52e-5 - 1.0).abs() < 2e-3, "{want:e}");
    let r = &analyse_text(&etcd_plan(3, "1", 20_000), 20_000)[0];
    let u = metric(r, "etcd_quorum.mode_unavailability");
    eprintln!("one crew: mode unavailability {u:e}, chain {want:e}");
    assert!((u / want - 1.0).abs() < 0.02, "{u:e} vs {want:e}");
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn plan_cli(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["plan"];
    all.extend_from_slice(args);
    crate::common::run_bin(None, &all)
}

#[test]
fn the_same_plan_and_seed_give_a_byte_identical_plan_json() {
    let dir = temp("determinism");
    let text = r#"{"name": "d", "seed": 5, "years": 300, "transition_samples": 1,
        "base": {"duration": "1h", "topology": {"etcd": "stacked", "control_plane_nodes": 3,
                 "zones": ["a", "b", "c"], "load_balancers": 2}},
        "failures": [{"class": "control-plane", "mttf": "300h", "mttr": "8h",
                      "distribution": "weibull", "shape": 1.5},
                     {"class": "zone", "mttf": "2000h", "mttr": "2h"}],
        "repair": {"crews": 1},
        "expect": [{"design": "d", "metric": "api.availability", "at_least": 0.5},
                   {"design": "d", "metric": "etcd_quorum.availability", "at_least": 1.5}]}"#;
    let f = write(&dir, "d.json", text);
    let mut outs = Vec::new();
    for k in 0..2 {
        let out = dir.join(format!("out{k}"));
        let (code, stdout, stderr) =
            plan_cli(&[f.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        // The second expectation cannot hold: exit 1, and the summary says which.
        assert_eq!(code, 1, "{stdout}\n{stderr}");
        assert!(
            stdout.contains("FAIL d etcd_quorum.availability >= 1.5"),
            "{stdout}"
        );
        outs.push(std::fs::read(out.join("plan.json")).unwrap());
        for f in ["plan.html", "downtime.svg", "nines.svg"] {
            assert!(out.join(f).exists(), "{f}");
        }
    }
    assert_eq!(outs[0], outs[1]);
    let v: serde_json::Value = serde_json::from_slice(&outs[0]).unwrap();
    assert_eq!(v["plan"], "d");
    assert_eq!(v["years"], 300);
    let d = &v["designs"][0];
    assert_eq!(d["method"], "simulation", "weibull failures are simulated");
    assert_eq!(d["nodes"], 5);
    for m in [
        "availability",
        "availability_ci95_low",
        "availability_ci95_high",
        "downtime_min_per_year",
        "outages_per_year",
        "mean_outage_s",
        "p99_outage_s",
    ] {
        assert!(d["metrics"][format!("api.{m}")].is_number(), "{m}");
    }
    assert!(d["contributions"].as_object().unwrap().len() > 1);
    assert_eq!(v["expectations"][1]["passed"], false);
}

/// Each bad plan file: exit 2, and stderr names the file, the field path with line and column, and
/// what is allowed.
#[test]
fn bad_plan_files_exit_2_with_a_clear_message() {
    let dir = temp("bad");
    let base =
        r#""base": {"duration": "1h", "topology": {"etcd": "stacked", "control_plane_nodes": 3}}"#;
    let cases: &[(&str, String, &str)] = &[
        ("distribution", format!(r#"{{"name": "p", {base},
 "failures": [{{"class": "etcd", "mttf": "2000h", "mttr": "8h", "distribution": "lognormal"}}]}}"#),
         "2:80: field `failures[0].distribution`: unknown value `lognormal`; allowed: exponential, weibull, deterministic"),
        ("class", format!(r#"{{"name": "p", {base},
 "failures": [{{"class": "etc", "mttf": "2000h", "mttr": "8h"}}]}}"#),
         "field `failures[0].class`: unknown value `etc` (did you mean `etcd`?); allowed: control-plane, etcd, worker, load-balancer, zone"),
        ("unitless", format!(r#"{{"name": "p", {base},
 "failures": [{{"class": "etcd", "mttf": 2000, "mttr": "8h"}}]}}"#),
         "field `failures[0].mttf`: 2000 has no unit"),
        ("missing-mttr", format!(r#"{{"name": "p", {base},
 "failures": [{{"class": "etcd", "mttf": "2000h"}}]}}"#),
         "field `failures[0].mttr`: missing required field `mttr`"),
        ("weibull-without-shape", format!(r#"{{"name": "p", {base},
 "failures": [{{"class": "etcd", "mttf": "2000h", "mttr": "8h", "distribution": "weibull"}}]}}"#),
         "field `failures[0].distribution`: a weibull distribution needs `shape`"),
        ("crews", format!(r#"{{"name": "p", {base}, "repair": {{"crews": "per-nod"}},
 "failures": [{{"class": "etcd", "mttf": "2000h", "mttr": "8h"}}]}}"#),
         "field `repair.crews`: unknown value `per-nod` (did you mean `per-node`?)"),
        ("overlay-field", format!(r#"{{"name": "p", {base},
 "designs": [{{"name": "a", "faults": []}}],
 "failures": [{{"class": "etcd", "mttf": "2000h", "mttr": "8h"}}]}}"#),
         "2:28: field `designs[0].faults`: a design cannot set `faults`"),
        ("design-crews", format!(r#"{{"name": "p", {base},
 "designs": [{{"name": "a", "repair": {{"crews": 0}}}}],
 "failures": [{{"class": "etcd", "mttf": "2000h", "mttr": "8h"}}]}}"#),
         "field `designs[0].repair.crews`: expected \"per-node\" (every failed node repaired at once) or a whole number of shared crews from 1 to 1000"),
        ("overlay-invalid", format!(r#"{{"name": "p", {base},
 "designs": [{{"name": "a", "topology": {{"etcd_nodes": 3}}}}],
 "failures": [{{"class": "etcd", "mttf": "2000h", "mttr": "8h"}}]}}"#),
         "field `designs[0].topology.etcd_nodes`: etcd_nodes is only for external etcd"),
        ("expect-design", format!(r#"{{"name": "p", {base},
 "designs": [{{"name": "etcd-3"}}],
 "failures": [{{"class": "etcd", "mttf": "2000h", "mttr": "8h"}}],
 "expect": [{{"design": "etcd-5", "metric": "api.availability", "at_least": 0.9}}]}}"#),
         "field `expect[0].design`: there is no design `etcd-5` (did you mean `etcd-3`?); designs: etcd-3"),
        ("expect-metric", format!(r#"{{"name": "p", {base},
 "failures": [{{"class": "etcd", "mttf": "2000h", "mttr": "8h"}}],
 "expect": [{{"design": "p", "metric": "api.availabilty", "at_least": 0.9}}]}}"#),
         "unknown metric `api.availabilty` (did you mean `api.availability`?)"),
        ("base-faults", r#"{"name": "p", "base": {"duration": "1h", "topology": {"etcd": "stacked", "control_plane_nodes": 3}, "faults": []},
 "failures": [{"class": "etcd", "mttf": "2000h", "mttr": "8h"}]}"#.to_string(),
         "field `base.faults`: a plan's base takes no `faults`"),
        ("base-invalid", r#"{"name": "p", "base": {"duration": "1h", "topology": {"etcd": "stacked", "control_plane_nodes": 3, "zones": ["a", "a"]}},
 "failures": [{"class": "etcd", "mttf": "2000h", "mttr": "8h"}]}"#.to_string(),
         "field `base.topology.zones[1]`: zone `a` is listed twice"),
        ("missing-failures", format!(r#"{{"name": "p", {base}}}"#),
         "missing required field `failures`; a plan needs at least `name`, `base` and `failures`"),
        ("not-an-object", "[1, 2]".to_string(), "a plan file is a JSON object"),
    ];
    for (name, text, want) in cases {
        let f = write(&dir, &format!("{name}.json"), text);
        let (code, stdout, stderr) = plan_cli(&[
            f.to_str().unwrap(),
            "--out",
            dir.join("o").to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "{name}: {stdout}{stderr}");
        assert!(
            stderr.contains(&f.display().to_string()),
            "{name}: {stderr}"
        );
        assert!(
            stderr.contains(want),
            "{name}: expected {want:?} in\n{stderr}"
        );
    }
    let (code, _, stderr) = plan_cli(&[dir.join("nope.json").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read the plan file"), "{stderr}");
}

/// `check` walks folders for scenarios; the plans in `scenarios/plans/` are not scenarios.
#[test]
fn check_leaves_plan_files_out_of_its_folder_walk() {
    let dir = temp("discover");
    write(
        &dir,
        "a.json",
        r#"{"name": "a", "duration": "2m", "topology": {"etcd": "stacked", "control_plane_nodes": 1},
            "expect": [{"metric": "etcd_quorum.availability", "at_least": 0.5}]}"#,
    );
    std::fs::create_dir_all(dir.join("plans")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/plans/etcd-3-vs-5.json"),
        dir.join("plans/etcd-3-vs-5.json"),
    )
    .unwrap();
    let o = Command::new(BIN).arg("check").arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        !stdout.contains("etcd-3-vs-5") && !stderr.contains("etcd-3-vs-5"),
        "{stdout}{stderr}"
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}

/// Every plan of the library loads.
#[test]
fn the_library_plans_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/plans");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            kube_ha_sim::capacity::model::load_plan(&p).unwrap_or_else(|e| panic!("{e}"));
            assert!(kube_ha_sim::capacity::model::is_plan_file(&p));
            n += 1;
        }
    }
    assert!(n >= 3);
}

/// With failures frequent enough for a few plain runs to see many of them, `plan` agrees with plain
/// runs of the detailed simulator whose fault script is the failure process itself (`--brute-force`),
/// within the runs' 95 % interval.
#[test]
fn plan_agrees_with_brute_force_runs_when_failures_are_frequent() {
    let text = r#"{"name": "frequent", "seed": 2, "years": 100, "transition_samples": 2,
        "base": {"duration": "8h", "topology": {"etcd": "stacked", "control_plane_nodes": 3,
                 "zones": ["a", "b", "c"], "load_balancers": 2},
                 "load": {"requests_per_second": 2}},
        "failures": [{"class": "control-plane", "mttf": "6h", "mttr": "1h"},
                     {"class": "load-balancer", "mttf": "12h", "mttr": "1h"}]}"#;
    let plan = parse_plan(text, "t.json", Path::new(".")).unwrap();
    let a = analyse(&plan, plan.years, plan.seed, Warmups::PerRun, 2, &Quiet).unwrap();
    let r = design_result(&a[0], plan.years as f64);
    let designs = vec![(a[0].design.scenario.clone(), a[0].model.clone())];
    let b = kube_ha_sim::capacity::brute::run_all(&designs, 6, plan.seed, 2, &Quiet).unwrap();
    for cap in ["api", "etcd_quorum", "scheduling"] {
        let (mean, half) = b[0].estimate(cap).unwrap();
        let want = metric(&r, &format!("{cap}.availability"));
        eprintln!("{cap}: plan {want:.4}, runs {mean:.4} +- {half:.4}");
        assert!(want < 0.97, "failures must be frequent: {want}");
        assert!(
            (mean - want).abs() <= half,
            "{cap}: plan {want} vs runs {mean} +- {half}"
        );
    }
}

#[test]
fn a_yaml_plan_reads_as_its_json_twin() {
    let json = etcd_plan(3, "\"per-node\"", 50);
    let yaml = r#"# The same plan in YAML.
name: etcd-3
seed: 3
years: 50
transition_samples: 2
base:
  duration: 1h
  topology: {etcd: external, control_plane_nodes: 1, etcd_nodes: 3}
failures:
  - class: etcd
    mttf: 2000h
    mttr: 8h
repair:
  crews: per-node
"#;
    let from_yaml = parse_plan(yaml, "t.yaml", Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    let from_json = parse_plan(&json, "t.json", Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(format!("{from_yaml:?}"), format!("{from_json:?}"));
    // Errors keep YAML positions.
    let bad = yaml.replace("mttf: 2000h", "mttf: 2000");
    let e = parse_plan(&bad, "t.yaml", Path::new(".")).unwrap_err();
    assert_eq!((e.line, e.column), (Some(11), Some(11)), "{e}");
}

/// Runs the binary in `dir` (so that relative paths in shard files resolve as they would for a user).
fn khs_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Every file of a report folder, by name.
fn folder_bytes(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// A plan small enough to run four times in a test: two designs (the second with one shared crew),
/// control-plane and load-balancer failures, two samples per transition, and brute-force runs, so that
/// the shards carry both kinds of run. A failing expectation makes the exit code 1, which the merge
/// must give too.
const SHARD_PLAN: &str = r#"{"name": "tiny", "seed": 3, "years": 200, "transition_samples": 2,
 "base": {"duration": "20m", "topology": {"etcd": "stacked", "control_plane_nodes": 3, "load_balancers": 2}},
 "designs": [{"name": "a"}, {"name": "b", "repair": {"crews": 1}}],
 "failures": [{"class": "control-plane", "mttf": "200h", "mttr": "8h"},
              {"class": "load-balancer", "mttf": "400h", "mttr": "4h"}],
 "expect": [{"design": "a", "metric": "api.availability", "at_least": 0.5},
            {"design": "b", "metric": "api.availability", "at_least": 0.9999}]}"#;

#[test]
fn merged_plan_shards_equal_the_single_machine_plan_byte_for_byte() {
    let d = temp("shards");
    std::fs::write(d.join("p.json"), SHARD_PLAN).unwrap();
    let single = khs_in(&d, &["plan", "p.json", "--brute-force", "2", "--out", "r"]);
    assert_eq!(
        single.0, 1,
        "design b misses its bound: {}{}",
        single.1, single.2
    );
    let want = folder_bytes(&d.join("r"));
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        [
            "downtime.png",
            "downtime.svg",
            "nines.png",
            "nines.svg",
            "plan.html",
            "plan.json"
        ]
    );
    std::fs::remove_dir_all(d.join("r")).unwrap();
    let mut runs = 0;
    for i in 1..=3 {
        let (code, out, err) = khs_in(
            &d,
            &[
                "plan",
                "p.json",
                "--brute-force",
                "2",
                "--shard",
                &format!("{i}/3"),
                "--shard-out",
                &format!("s{i}.json"),
            ],
        );
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.is_empty(), "a shard writes no summary: {out}");
        assert!(err.contains(&format!("shard {i}/3")), "{err}");
        let shard: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join(format!("s{i}.json"))).unwrap()).unwrap();
        runs += shard["runs"].as_object().unwrap().len();
        assert_eq!(shard["identity"]["brute_force_runs"], 4);
    }
    let total = khs_in(
        &d,
        &[
            "plan",
            "p.json",
            "--brute-force",
            "2",
            "--shard",
            "1/1",
            "--shard-out",
            "whole.json",
        ],
    );
    assert_eq!(total.0, 0, "{}", total.2);
    let whole: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("whole.json")).unwrap()).unwrap();
    assert_eq!(
        runs,
        whole["runs"].as_object().unwrap().len(),
        "every run in exactly one shard"
    );
    // The shards in any order give the same summary, exit code and files, byte for byte.
    let merged = khs_in(
        &d,
        &["merge", "s3.json", "s1.json", "s2.json", "--out", "r"],
    );
    assert_eq!((merged.0, &merged.1), (single.0, &single.1), "{}", merged.2);
    let got = folder_bytes(&d.join("r"));
    for (name, bytes) in &want {
        assert!(
            got.get(name) == Some(bytes),
            "{name} differs after the merge"
        );
    }
    assert_eq!(got.len(), want.len());
    // One shard of one is the whole plan too.
    let one = khs_in(&d, &["merge", "whole.json", "--out", "r1"]);
    assert_eq!((one.0, &one.1.replace("r1/", "r/")), (single.0, &single.1));
}

#[test]
fn plan_shards_refuse_bad_input_with_exit_2() {
    let d = temp("shard-errors");
    std::fs::write(d.join("p.json"), SHARD_PLAN).unwrap();
    let shard = |extra: &[&str], i: &str, out: &str| {
        let mut args = vec!["plan", "p.json", "--shard", i, "--shard-out", out];
        args.extend(extra);
        khs_in(&d, &args)
    };
    for bad in ["0/3", "4/3", "1/0", "x/3"] {
        let (code, _, err) = shard(&[], bad, "x.json");
        assert_eq!(code, 2, "{bad}");
        assert!(
            err.contains(&format!("--shard \"{bad}\"")) && err.contains("1 <= I <= N"),
            "{err}"
        );
    }
    let (code, _, err) = khs_in(&d, &["plan", "p.json", "--shard", "1/2"]);
    assert_eq!(code, 2);
    assert!(err.contains("needs --shard-out"), "{err}");
    let (code, _, err) = shard(&["--out", "o"], "1/2", "x.json");
    assert_eq!(code, 2);
    assert!(err.contains("--out belongs to `merge`"), "{err}");
    for i in 1..=2 {
        assert_eq!(shard(&[], &format!("{i}/2"), &format!("s{i}.json")).0, 0);
    }
    let merge = |files: &[&str]| {
        let mut args = vec!["merge"];
        args.extend(files);
        khs_in(&d, &args)
    };
    // A missing shard, a shard twice, a shard of another seed, a check shard among plan shards.
    let (code, _, err) = merge(&["s1.json"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("missing shard(s) 2/2 of plan tiny (p.json)"),
        "{err}"
    );
    let (code, _, err) = merge(&["s1.json", "s2.json", "s1.json"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("s1.json: field `shard`: shard 1/2 is given twice"),
        "{err}"
    );
    assert_eq!(shard(&["--seed", "4"], "2/2", "seed4.json").0, 0);
    let (code, _, err) = merge(&["s1.json", "seed4.json"]);
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "seed4.json: field `identity`: a shard of another plan than s1.json: seed 4 against 3"
        ),
        "{err}"
    );
    assert_eq!(shard(&[], "2/3", "of3.json").0, 0);
    let (code, _, err) = merge(&["s1.json", "of3.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("shard count 3 against 2"), "{err}");
    std::fs::write(d.join("c.json"), r#"{"kind":"kube-ha-sim check shard"}"#).unwrap();
    let (code, _, err) = merge(&["s1.json", "c.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("c.json: not a plan shard"), "{err}");
    let (code, _, err) = merge(&["s1.json", "s2.json", "--junit", "j.xml"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("merging plan shards takes only --out DIR"),
        "{err}"
    );
    // The plan file edited between the shards and the merge: its runs are not the shards' runs.
    std::fs::write(
        d.join("p.json"),
        SHARD_PLAN.replace("\"mttr\": \"8h\"", "\"mttr\": \"9h\""),
    )
    .unwrap();
    let (code, _, err) = merge(&["s1.json", "s2.json"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("p.json: the plan's runs differ from the shards'"),
        "{err}"
    );
    assert!(!d.join("out").exists(), "nothing written on bad input");
}

/// `--shared-warmups` forks one warm-up per design and sample (and the settling in each mode left)
/// for every transition run; `--no-fork` runs each from the start. The two give the same report and
/// summary, byte for byte, and so do shards of it merged; the shared seeds are other samples than
/// the default's per-run seeds, so that report differs.
#[test]
fn shared_warmups_give_the_same_plan_forked_or_not() {
    let d = temp("forks");
    std::fs::write(d.join("p.json"), SHARD_PLAN).unwrap();
    let per_run = khs_in(&d, &["plan", "p.json", "--out", "r0"]);
    let forked = khs_in(&d, &["plan", "p.json", "--shared-warmups", "--out", "r1"]);
    let plain = khs_in(
        &d,
        &[
            "plan",
            "p.json",
            "--shared-warmups",
            "--no-fork",
            "--out",
            "r2",
        ],
    );
    assert_eq!(
        forked.0, 1,
        "design b misses its bound: {}{}",
        forked.1, forked.2
    );
    assert_eq!(
        (plain.0, plain.1.replace("r2/", "r1/")),
        (forked.0, forked.1.clone()),
        "{}",
        plain.2
    );
    assert!(
        forked.1.contains("--seed 3 --shared-warmups"),
        "the replay line keeps the option: {}",
        forked.1
    );
    let want = folder_bytes(&d.join("r1"));
    assert_eq!(
        folder_bytes(&d.join("r2")),
        want,
        "forked and plain reports differ"
    );
    assert_eq!(want.len(), 6);
    assert_ne!(
        std::fs::read(d.join("r0/plan.json")).unwrap(),
        want["plan.json"],
        "shared warm-ups are other samples than per-run ones ({})",
        per_run.2
    );
    // Shards record the option, so their merge is the same plan again.
    for i in 1..=2 {
        let (code, out, err) = khs_in(
            &d,
            &[
                "plan",
                "p.json",
                "--shared-warmups",
                "--shard",
                &format!("{i}/2"),
                "--shard-out",
                &format!("s{i}.json"),
            ],
        );
        assert_eq!(code, 0, "{out}{err}");
    }
    let merged = khs_in(&d, &["merge", "s2.json", "s1.json", "--out", "r3"]);
    assert_eq!(
        (merged.0, merged.1.replace("r3/", "r1/")),
        (forked.0, forked.1),
        "{}",
        merged.2
    );
    assert_eq!(folder_bytes(&d.join("r3")), want, "merged shards differ");
}
