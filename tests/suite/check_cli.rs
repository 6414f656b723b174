//! `kube-ha-sim check` end to end: runs the built binary on small scenarios written to a temp folder.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_kube-ha-sim");

/// A fresh temp folder for one test.
fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("khs-check-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A small scenario (30 s, 3 stacked control-plane nodes, load straight to etcd) with `expect`.
fn scenario(name: &str, expect: &str) -> String {
    format!(
        r#"{{"name":"{name}","duration":"30s","topology":{{"etcd":"stacked","control_plane_nodes":3}},"load":{{"target":"etcd"}},"expect":[{expect}]}}"#
    )
}

const PASSING: &str = r#"{"metric":"etcd_quorum.availability","at_least":0.9},{"metric":"invariants.violations","equals":0}"#;
const FAILING: &str = r#"{"metric":"etcd_quorum.availability","at_least":0.9},{"metric":"etcd.leader_changes","equals":99}"#;

fn write(dir: &Path, file: &str, text: &str) -> PathBuf {
    let p = dir.join(file);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs `check` in a fresh working folder of its own, where a failing check writes its worst seeds'
/// reports (`out/check/`).
fn check(args: &[&str]) -> (i32, String, String) {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let cwd = temp(&format!("cwd-{n}"));
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    run_in(&cwd, &all)
}

/// Runs the binary with `args` in `cwd`: (exit code, stdout, stderr).
fn run_in(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    crate::common::run_bin(Some(cwd), args)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn passing_scenarios_exit_0_with_a_closing_line() {
    let d = temp("pass");
    write(&d, "b.json", &scenario("b", PASSING));
    write(&d, "a.json", &scenario("a", PASSING));
    let (code, out, err) = check(&[s(&d), "--twice"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("PASS  ") && lines[0].contains("a.json (a, seed 1)"),
        "{out}"
    );
    assert!(lines[1].contains("b.json (b, seed 1)"), "{out}");
    assert_eq!(lines.last(), Some(&"2 passed, 0 failed"), "{out}");
    // The order of the results does not depend on the number of threads.
    let (_, one_job, _) = check(&[s(&d), "--jobs", "1"]);
    let (_, two_jobs, _) = check(&[s(&d), "--jobs", "2"]);
    assert_eq!(one_job, two_jobs);
}

#[test]
fn a_failed_expectation_exits_1_and_names_metric_bound_actual_and_replay() {
    let d = temp("fail");
    let f = write(&d, "f.json", &scenario("f", FAILING));
    write(&d, "p.json", &scenario("p", PASSING));
    let (code, out, err) = check(&[s(&d)]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains(&format!("FAIL  {} (f, seed 1)", f.display())),
        "{out}"
    );
    assert!(out.contains("etcd.leader_changes == 99: actual 0"), "{out}");
    assert!(
        out.contains(&format!("replay: kube-ha-sim run {} --seed 1", f.display())),
        "{out}"
    );
    assert!(
        !out.contains("etcd_quorum.availability"),
        "only failed expectations are listed: {out}"
    );
    assert!(out.ends_with("\n1 passed, 1 failed\n"), "{out}");
}

#[test]
fn invalid_files_exit_2_are_all_reported_and_the_rest_still_runs() {
    let d = temp("invalid");
    write(&d, "bad1.json", "{ \"name\": ");
    write(&d, "bad2.json", r#"{"name":"x","duration":"30s"}"#);
    write(&d, "good.json", &scenario("good", PASSING));
    let (code, out, err) = check(&[s(&d)]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains("bad1.json") && err.contains("bad2.json"),
        "{err}"
    );
    assert!(out.contains("INVALID ") && out.contains("PASS "), "{out}");
    assert!(out.ends_with("\n1 passed, 2 failed\n"), "{out}");
    let (code, _, err) = check(&[s(&d.join("missing"))]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn bad_seed_ranges_exit_2_with_a_clear_message() {
    let d = temp("seeds");
    let f = write(&d, "p.json", &scenario("p", PASSING));
    for bad in ["5..1", "x", "0", "1..y"] {
        let (code, out, err) = check(&[s(&f), "--seeds", bad]);
        assert_eq!(code, 2, "--seeds {bad}: {out}\n{err}");
        assert!(err.contains("--seeds"), "--seeds {bad}: {err}");
        assert!(out.is_empty(), "nothing runs: {out}");
    }
    let (code, _, err) = check(&[s(&f), "--update"]);
    assert_eq!(code, 2, "--update without --baseline: {err}");
}

#[test]
fn junit_parses_with_one_case_per_expectation_and_failures() {
    let d = temp("junit");
    write(&d, "bad.json", "not json <&>");
    let f = write(&d, "f.json", &scenario("f & co", FAILING));
    write(&d, "p.json", &scenario("p", PASSING));
    let xml_path = d.join("reports/junit.xml");
    let (code, out, err) = check(&[s(&d), "--junit", s(&xml_path)]);
    assert_eq!(code, 2, "{out}\n{err}");
    let text = std::fs::read_to_string(&xml_path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("5"));
    assert_eq!(root.attribute("failures"), Some("1"));
    assert_eq!(root.attribute("errors"), Some("1"));
    assert!(root.attribute("time").unwrap().parse::<f64>().is_ok());
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 3);
    for suite in &suites {
        for a in ["name", "tests", "failures", "errors", "time"] {
            assert!(suite.attribute(a).is_some(), "testsuite without {a}");
        }
    }
    let cases: Vec<_> = root
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 5);
    let of_f: Vec<_> = cases
        .iter()
        .filter(|c| c.attribute("classname") == Some("f & co"))
        .collect();
    assert_eq!(of_f.len(), 2);
    let failures: Vec<_> = root
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0].parent().unwrap().attribute("name"),
        Some("etcd.leader_changes == 99")
    );
    assert_eq!(
        failures[0].attribute("message"),
        Some("etcd.leader_changes == 99 actual 0")
    );
    let body = failures[0].text().unwrap();
    assert!(
        body.contains(&format!("kube-ha-sim run {} --seed 1", f.display())),
        "{body}"
    );
    let errors: Vec<_> = root
        .descendants()
        .filter(|n| n.has_tag_name("error"))
        .collect();
    assert!(errors[0]
        .parent()
        .unwrap()
        .attribute("classname")
        .unwrap()
        .ends_with("bad.json"));
}

#[test]
fn baselines_are_written_then_a_drift_fails_with_a_diff() {
    let d = temp("baseline");
    let scen = d.join("scenarios");
    std::fs::create_dir_all(&scen).unwrap();
    write(&scen, "t.json", &scenario("t", PASSING));
    let base = d.join("baselines");
    let (code, out, err) = check(&[s(&scen), "--baseline", s(&base)]);
    assert_eq!(code, 1, "a missing baseline fails: {out}\n{err}");
    assert!(out.contains("--update"), "{out}");
    let (code, out, err) = check(&[s(&scen), "--baseline", s(&base), "--update"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let file = base.join("t.baseline.json");
    let mut b: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(b["scenario"], "t");
    assert_eq!(b["seed"], 1);
    assert_eq!(b["passed"], true);
    assert_eq!(b["metrics"]["etcd_quorum.availability"], 1.0);
    let (code, out, err) = check(&[s(&scen), "--baseline", s(&base)]);
    assert_eq!(code, 0, "unchanged: {out}\n{err}");

    // Drift: the baseline remembers a much worse availability and far fewer requests.
    let requests = b["metrics"]["api.requests"].as_f64().unwrap();
    b["metrics"]["etcd_quorum.availability"] = serde_json::json!(0.5);
    // (a share, not a count: how many requests fall after the warm-up depends on the boot spread)
    b["metrics"]["api.requests"] = serde_json::json!(requests * 0.6);
    std::fs::write(&file, serde_json::to_vec_pretty(&b).unwrap()).unwrap();
    let (code, out, err) = check(&[s(&scen), "--baseline", s(&base)]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("baseline drift"), "{out}");
    assert!(
        out.contains("etcd_quorum.availability: baseline 0.5 -> now 1 (+0.5, allowed ±0.005)"),
        "{out}"
    );
    assert!(out.contains("api.requests: baseline"), "{out}");
    // A wide enough tolerance accepts it.
    let (code, out, err) = check(&[
        s(&scen),
        "--baseline",
        s(&base),
        "--tolerance",
        "etcd_quorum.availability=0.6",
        "--tolerance",
        "api.requests=100%",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
}

/// Reads `metric` from the line `ok|FAIL METRIC ...: ... worst seed N: V; min .. p50 P ...` of a sweep.
fn sweep_line(out: &str, metric: &str) -> (u64, f64, f64, f64) {
    let line = out
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(metric))
        .unwrap_or_else(|| panic!("no sweep line for {metric}: {out}"));
    let after = |key: &str| -> String {
        let i = line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len();
        line[i..]
            .split([';', ' ', ':'])
            .find(|w| !w.is_empty())
            .unwrap()
            .to_string()
    };
    (
        after("worst seed ").parse().unwrap(),
        line.split(": ")
            .nth(2)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .parse()
            .unwrap(),
        after(" p50 ").parse().unwrap(),
        after(" max ").parse().unwrap(),
    )
}

#[test]
fn a_sweep_finds_the_worst_seed_and_its_replay_reproduces_the_value() {
    let d = temp("sweep");
    let lenient = write(
        &d,
        "s.json",
        &scenario("s", r#"{"metric":"api.latency_p99_ms","at_most":100000}"#),
    );
    let (code, out, err) = check(&[s(&lenient), "--seeds", "1..12"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, _, p50, max) = sweep_line(&out, "api.latency_p99_ms");
    assert!(
        p50 < max,
        "the metric must vary over seeds for this test: {out}"
    );

    // A bound at the median fails on some seeds; the worst is the largest value.
    let tight = write(
        &d,
        "s.json",
        &scenario(
            "s",
            &format!(r#"{{"metric":"api.latency_p99_ms","at_most":{p50}}}"#),
        ),
    );
    let (code, out, err) = check(&[s(&tight), "--seeds", "1..12"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("FAIL api.latency_p99_ms <= "), "{out}");
    let (worst, value, _, max2) = sweep_line(&out, "api.latency_p99_ms");
    assert_eq!(value, max2, "{out}");
    let replay = format!("replay: kube-ha-sim run {} --seed {worst}", tight.display());
    assert!(out.contains(&replay), "{out}");

    // The printed command reproduces exactly that value.
    let dir = d.join("replay");
    let status = Command::new(BIN)
        .args([
            "run",
            s(&tight),
            "--seed",
            &worst.to_string(),
            "--out",
            s(&dir),
        ])
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(1));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        report["metrics"]["api.latency_p99_ms"].as_f64(),
        Some(value)
    );

    // A sweep's baseline keeps the worst value over the seeds.
    let base = d.join("base");
    let (code, out, err) = check(&[
        s(&tight),
        "--seeds",
        "1..12",
        "--baseline",
        s(&base),
        "--update",
    ]);
    assert_eq!(code, 1, "{out}\n{err}");
    let b: serde_json::Value =
        serde_json::from_slice(&std::fs::read(base.join("s.baseline.json")).unwrap()).unwrap();
    assert_eq!(b["metrics"]["api.latency_p99_ms"].as_f64(), Some(value));
    assert_eq!(b["seeds"].as_array().map(Vec::len), Some(12));
    assert_eq!(b["passed"], false);
}

#[test]
fn derived_seed_sweeps_are_reproducible() {
    let d = temp("derived");
    let f = write(
        &d,
        "s.json",
        &scenario("s", r#"{"metric":"api.latency_p99_ms","at_most":100000}"#),
    );
    let (code, a, err) = check(&[s(&f), "--seeds", "4"]);
    assert_eq!(code, 0, "{a}\n{err}");
    assert!(
        a.contains("(s, 4 seeds 1,"),
        "the file's seed comes first: {a}"
    );
    let (_, b, _) = check(&[s(&f), "--seeds", "4", "--jobs", "1"]);
    assert_eq!(a, b);
}

#[test]
fn a_cluster_that_never_reaches_steady_state_fails() {
    let d = temp("unsteady");
    let f = write(
        &d,
        "u.json",
        r#"{"name":"u","duration":"30s","topology":{"etcd":"stacked","control_plane_nodes":3},"load":{"target":"etcd"},
            "faults":[{"at":"0s","kind":"crash","target":"cp-1"},{"at":"0s","kind":"crash","target":"cp-2"}],
            "expect":[{"metric":"invariants.violations","equals":0}]}"#,
    );
    let (code, out, err) = check(&[s(&f)]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("never reached steady state on seed(s) 1"),
        "{out}"
    );
}

#[test]
fn output_and_cache_folders_are_not_searched_for_scenarios() {
    // `check .` after a `run` must not take out/NAME/report.json for a scenario, nor cargo's target/
    // (marked with CACHEDIR.TAG) with its JSON fingerprints.
    let d = temp("outputs");
    write(&d, "a.json", &scenario("a", PASSING));
    let out_dir = d.join("out").join("a");
    std::fs::create_dir_all(&out_dir).unwrap();
    write(&out_dir, "report.json", r#"{"scenario":"a","metrics":{}}"#);
    write(&out_dir, "extra.json", r#"{"not":"a scenario"}"#);
    let cache = d.join("target");
    std::fs::create_dir_all(&cache).unwrap();
    write(
        &cache,
        "CACHEDIR.TAG",
        "Signature: 8a477f597d28d172789f06886806bc55\n",
    );
    write(&cache, "fingerprint.json", r#"{"rustc":1}"#);
    let (code, out, err) = check(&[s(&d)]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        !out.contains("INVALID") && !err.contains("error"),
        "{out}\n{err}"
    );
    assert_eq!(out.lines().last(), Some("1 passed, 0 failed"), "{out}");
}

#[test]
fn format_json_gives_one_document_with_the_same_verdicts() {
    let d = temp("json");
    write(&d, "a.json", &scenario("a", PASSING));
    write(&d, "b.json", &scenario("b", FAILING));
    write(&d, "c.json", "{ not json");
    let (code, out, err) = check(&[s(&d), "--format", "json", "--seeds", "1..3"]);
    assert_eq!(code, 2, "an invalid file makes it bad input\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("stdout is one JSON document");
    assert_eq!(v["exit_code"], 2);
    assert_eq!(v["invalid"].as_array().unwrap().len(), 1, "{v}");
    let sc = v["scenarios"].as_array().unwrap();
    let names: Vec<&str> = sc.iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a", "b"], "path order");
    assert_eq!(sc[0]["status"], "passed");
    assert_eq!(sc[1]["status"], "failed");
    assert_eq!(sc[0]["seeds"], serde_json::json!([1, 2, 3]));
    let failing = &sc[1]["expectations"][1];
    assert_eq!(failing["metric"], "etcd.leader_changes");
    assert_eq!(failing["passed"], false);
    assert_eq!(failing["failed_seeds"], 3);
    assert!(failing["replay"].as_str().unwrap().contains("--seed"));
    // The same check twice gives the same document (no wall-clock times in it).
    let (_, again, _) = check(&[s(&d), "--format", "json", "--seeds", "1..3", "--jobs", "1"]);
    assert_eq!(out, again);
}

#[test]
fn results_stream_in_path_order_and_match_the_one_shot_report() {
    // The text summary is written scenario by scenario as each finishes (in path order), and reads
    // exactly as the report rendered at the end would.
    let d = temp("stream");
    for name in ["c", "a", "b"] {
        write(&d, &format!("{name}.json"), &scenario(name, PASSING));
    }
    write(&d, "bad.json", "[]");
    let (_, out, _) = check(&[s(&d), "--jobs", "2"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("a.json"), "{out}");
    assert!(lines[1].contains("b.json"), "{out}");
    assert!(
        lines[2].starts_with("INVALID") && lines[2].contains("bad.json"),
        "{out}"
    );
    assert!(lines[3].contains("c.json"), "{out}");
    let opts = kube_ha_sim::check::CheckOptions {
        paths: vec![d.clone()],
        ..Default::default()
    };
    let report = kube_ha_sim::check::check(&opts).unwrap();
    assert_eq!(out, report.render_text());
}

#[test]
fn each_scenario_is_handed_on_as_soon_as_its_runs_are_done() {
    use kube_ha_sim::check::{CheckProgress, CheckReport, Streamed};
    #[derive(Default)]
    struct Log(Vec<String>);
    impl CheckProgress for Log {
        fn start(&mut self, total: usize) {
            self.0.push(format!("start {total}"));
        }
        fn run_done(&mut self, done: usize) {
            self.0.push(format!("done {done}"));
        }
        fn item(&mut self, _: &CheckReport, item: Streamed) {
            let name = item
                .path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            self.0.push(format!("item {name}"));
        }
    }
    let d = temp("handed-on");
    for name in ["a", "b"] {
        write(&d, &format!("{name}.json"), &scenario(name, PASSING));
    }
    let opts = kube_ha_sim::check::CheckOptions {
        paths: vec![d.clone()],
        jobs: Some(1),
        seeds: kube_ha_sim::check::seeds::SeedSpec::parse("1..2").unwrap(),
        ..Default::default()
    };
    let mut log = Log::default();
    kube_ha_sim::check::check_streaming(&opts, &mut log).unwrap();
    assert_eq!(
        log.0,
        [
            "start 4",
            "done 1",
            "done 2",
            "item a.json",
            "done 3",
            "done 4",
            "item b.json"
        ]
    );
}

#[test]
fn a_failing_sweep_leaves_the_worst_seeds_report_to_look_at() {
    let d = temp("worst");
    write(
        &d,
        "b.json",
        &scenario(
            "b",
            r#"{"metric":"api.latency_p99_ms","at_most":0.001},{"metric":"invariants.violations","equals":0}"#,
        ),
    );
    let out_dir = d.join("reports-of-failures");
    let (code, out, err) = check(&[s(&d), "--seeds", "1..4", "--out", s(&out_dir)]);
    assert_eq!(code, 1, "{out}\n{err}");
    let worst: u64 = out
        .lines()
        .find(|l| l.contains("FAIL api.latency_p99_ms"))
        .and_then(|l| l.split("worst seed ").nth(1))
        .and_then(|t| t.split(':').next())
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("no worst seed in\n{out}"));
    let folder = out_dir.join("b").join(format!("seed-{worst}"));
    assert!(
        err.contains(&folder.join("report.html").display().to_string()),
        "{err}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["seed"], worst);
    for f in ["report.html", "timeline.svg", "timeline.png"] {
        assert!(folder.join(f).is_file(), "{f} missing");
    }
    // Only the failing scenario's worst seed: no other seed's folder.
    assert_eq!(std::fs::read_dir(out_dir.join("b")).unwrap().count(), 1);
}

#[test]
fn merged_shards_equal_the_single_machine_check_byte_for_byte() {
    let d = temp("shards");
    write(&d, "a.json", &scenario("a", PASSING));
    write(&d, "b.json", &scenario("b", FAILING));
    write(&d, "c.json", "{ broken");
    let single = check(&[s(&d), "--seeds", "1..3", "--format", "json"]);
    let single_text = check(&[s(&d), "--seeds", "1..3"]);
    let shard_file = |i: usize| d.join(format!("shard-{i}.json"));
    for i in 1..=4 {
        let (code, _, err) = check(&[
            s(&d),
            "--seeds",
            "1..3",
            "--shard",
            &format!("{i}/4"),
            "--shard-out",
            s(&shard_file(i)),
        ]);
        assert_eq!(code, 2, "the broken file is reported by every shard: {err}");
        assert!(err.contains(&format!("shard {i}/4")), "{err}");
    }
    let merge = |files: &[PathBuf], extra: &[&str]| {
        let mut args: Vec<&str> = vec!["merge"];
        args.extend(files.iter().map(|p| s(p)));
        args.extend(extra);
        run_in(&d, &args)
    };
    let all: Vec<PathBuf> = [3, 1, 4, 2].iter().map(|&i| shard_file(i)).collect();
    let merged = merge(&all, &["--format", "json"]);
    assert_eq!((merged.0, &merged.1), (single.0, &single.1), "{}", merged.2);
    let merged_text = merge(&all, &[]);
    assert_eq!(
        (merged_text.0, &merged_text.1),
        (single_text.0, &single_text.1)
    );
    // A missing shard, a shard twice, or a shard of another check is refused.
    let (code, _, err) = merge(&all[..3], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("missing shard(s) 2/4"), "{err}");
    let twice = [all.clone(), vec![all[0].clone()]].concat();
    let (code, _, err) = merge(&twice, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("twice"), "{err}");
    let other = d.join("other.json");
    check(&[
        s(&d),
        "--seeds",
        "1..2",
        "--shard",
        "2/4",
        "--shard-out",
        s(&other),
    ]);
    let (code, _, err) = merge(
        &[all[0].clone(), all[1].clone(), all[2].clone(), other],
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("another check"), "{err}");
}

#[test]
fn merge_checks_where_it_will_write_before_it_reads_the_shards() {
    // A JUnit path under a plain file cannot be written: `merge` says so first, with exit 2, rather
    // than after judging every shard.
    let d = temp("merge-probe");
    let blocker = write(&d, "not-a-folder", "x");
    let junit = blocker.join("junit.xml");
    let shard = d.join("missing.shard.json");
    let (code, _, err) = run_in(&d, &["merge", s(&shard), "--junit", s(&junit)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot write the JUnit report"), "{err}");
    assert!(!err.contains("missing.shard.json"), "{err}");
}
