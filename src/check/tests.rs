//! Unit tests of the check module that need no simulation: discovery, option errors, rendering, exit codes.

use super::stats::SeedValue;
use super::*;
use crate::report::junit::CaseResult;
use crate::scenario::model::Expectation;
use crate::scenario::plan::ExpectationPlan;
use std::path::Path;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("khs-check-unit-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn exp(metric: &str, at_least: Option<f64>, equals: Option<f64>) -> ExpectationPlan {
    ExpectationPlan::from_spec(&Expectation {
        metric: metric.into(),
        at_least,
        at_most: None,
        equals,
        ..Default::default()
    })
    .expect("one bound")
}

fn summary(e: ExpectationPlan, values: &[(u64, f64, bool)]) -> ExpectationSummary {
    let bound = crate::run::judge(&e, &Metrics::new()).bound_text();
    let v: Vec<SeedValue> = values
        .iter()
        .map(|&(seed, a, passed)| SeedValue {
            seed,
            actual: Some(a),
            passed,
        })
        .collect();
    stats::summarize(&e, bound, &v)
}

fn result(
    path: &str,
    status: Status,
    expectations: Vec<ExpectationSummary>,
    seeds: Vec<u64>,
) -> ScenarioResult {
    ScenarioResult {
        path: PathBuf::from(path),
        name: format!("name-of-{path}"),
        seeds,
        expectations,
        unsteady_seeds: Vec::new(),
        errors: Vec::new(),
        nondeterministic: Vec::new(),
        baseline: None,
        time_s: 1.0,
        status,
    }
}

#[test]
fn discovery_walks_folders_sorted_and_skips_baselines_and_hidden_files() {
    let d = temp_dir("discover");
    for f in [
        "b.json",
        "a.json",
        "sub/c.json",
        "x.baseline.json",
        ".hidden.json",
        "notes.txt",
        ".git/d.json",
    ] {
        let p = d.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "{}").unwrap();
    }
    let (files, errors) = discover(&[d.clone(), d.join("a.json"), d.join("missing")]);
    let names: Vec<_> = files
        .iter()
        .map(|f| f.strip_prefix(&d).unwrap().to_path_buf())
        .collect();
    assert_eq!(
        names,
        [
            Path::new("a.json"),
            Path::new("b.json"),
            Path::new("sub/c.json")
        ]
    );
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.contains("missing"), "{:?}", errors);
    let empty = temp_dir("discover-empty");
    let (files, errors) = discover(&[empty]);
    assert!(files.is_empty());
    assert!(errors[0].message.contains("no scenario files"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn invalid_files_and_missing_paths_give_exit_2() {
    let d = temp_dir("invalid");
    std::fs::write(d.join("bad.json"), "{ not json").unwrap();
    let report = check(&CheckOptions {
        paths: vec![d.clone()],
        jobs: Some(2),
        ..CheckOptions::default()
    })
    .unwrap();
    assert_eq!(report.input_errors.len(), 1);
    assert!(report.input_errors[0].message.contains("bad.json"));
    assert_eq!(report.exit_code(), EXIT_BAD_INPUT);
    let text = report.render_text();
    assert!(text.contains("INVALID "), "{text}");
    assert!(text.ends_with("0 passed, 1 failed\n"), "{text}");
    let missing = check(&CheckOptions {
        paths: vec![d.join("nope")],
        ..CheckOptions::default()
    })
    .unwrap();
    assert_eq!(missing.exit_code(), EXIT_BAD_INPUT);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_options_are_errors() {
    let update = CheckOptions {
        update: true,
        ..CheckOptions::default()
    };
    assert!(check(&update).unwrap_err().contains("--baseline"));
    let zero = CheckOptions {
        jobs: Some(0),
        ..CheckOptions::default()
    };
    assert!(check(&zero).unwrap_err().contains("--jobs"));
}

#[test]
fn exit_codes_follow_the_worst_status() {
    let pass = result("a.json", Status::Passed, vec![], vec![1]);
    let fail = result("b.json", Status::Failed, vec![], vec![1]);
    let err = result("c.json", Status::Error, vec![], vec![1]);
    let skip = result("d.json", Status::Skipped, vec![], vec![]);
    let rep = |s: Vec<ScenarioResult>| CheckReport {
        scenarios: s,
        ..CheckReport::default()
    };
    assert_eq!(rep(vec![pass.clone(), skip.clone()]).exit_code(), EXIT_OK);
    assert_eq!(
        rep(vec![pass.clone(), fail.clone()]).exit_code(),
        EXIT_FAILED
    );
    assert_eq!(rep(vec![fail.clone(), err]).exit_code(), EXIT_BAD_INPUT);
    let r = rep(vec![pass, fail, skip]);
    assert_eq!(r.closing_line(), "1 passed, 1 failed, 1 skipped");
}

#[test]
fn text_names_failed_expectations_with_bound_actual_and_replay() {
    let e = summary(
        exp("etcd.leader_changes", None, Some(99.0)),
        &[(7, 1.0, false)],
    );
    let r = result("s/a b.json", Status::Failed, vec![e], vec![7]);
    let report = CheckReport {
        scenarios: vec![r],
        ..CheckReport::default()
    };
    let text = report.render_text();
    assert!(
        text.starts_with("FAIL  s/a b.json (name-of-s/a b.json, seed 7)\n"),
        "{text}"
    );
    assert!(
        text.contains("etcd.leader_changes == 99: actual 1\n"),
        "{text}"
    );
    assert!(
        text.contains("replay: kube-ha-sim run 's/a b.json' --seed 7\n"),
        "{text}"
    );
    assert!(text.ends_with("\n0 passed, 1 failed\n"), "{text}");
}

#[test]
fn sweep_text_gives_worst_seed_percentiles_and_replay_per_expectation() {
    let vals: Vec<(u64, f64, bool)> = (1..=10).map(|s| (s, s as f64 / 10.0, s > 2)).collect();
    let e = summary(exp("api.availability", Some(0.25), None), &vals);
    let r = result("a.json", Status::Failed, vec![e], (1..=10).collect());
    let report = CheckReport {
        scenarios: vec![r],
        sweep: true,
        ..CheckReport::default()
    };
    let text = report.render_text();
    assert!(text.contains("(name-of-a.json, 10 seeds 1..10)"), "{text}");
    assert!(
        text.contains("FAIL api.availability >= 0.25: failed on 2/10 seeds; worst seed 1: 0.1; min 0.1 p10 0.1 p50 0.5 p90 0.9 max 1"),
        "{text}"
    );
    assert!(
        text.contains("replay: kube-ha-sim run a.json --seed 1"),
        "{text}"
    );
}

#[test]
fn junit_has_a_case_per_expectation_and_failures_with_replay() {
    let ok = summary(exp("api.availability", Some(0.5), None), &[(3, 0.9, true)]);
    let bad = summary(
        exp("etcd.leader_changes", None, Some(99.0)),
        &[(3, 1.0, false)],
    );
    let mut r = result("x.json", Status::Failed, vec![ok, bad], vec![3]);
    r.baseline = Some(BaselineOutcome::Missing {
        path: PathBuf::from("b/x.baseline.json"),
    });
    let report = CheckReport {
        scenarios: vec![r],
        input_errors: vec![InputError {
            path: PathBuf::from("y.json"),
            message: "y.json: line 1 column 2: expected value".into(),
        }],
        twice: true,
        ..CheckReport::default()
    };
    let j = report.junit();
    assert_eq!(j.suites.len(), 2);
    let cases = &j.suites[0].cases;
    let names: Vec<_> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "api.availability >= 0.5",
            "etcd.leader_changes == 99",
            "deterministic (--twice)",
            "baseline"
        ]
    );
    assert!(cases.iter().all(|c| c.classname == "name-of-x.json"));
    match &cases[1].result {
        CaseResult::Failure { message, body, .. } => {
            assert_eq!(message, "etcd.leader_changes == 99 actual 1");
            assert!(
                body.contains("replay: kube-ha-sim run x.json --seed 3"),
                "{body}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        j.suites[1].cases[0].result,
        CaseResult::Error { .. }
    ));
    let xml = crate::report::junit::render(&j);
    assert!(
        xml.contains("tests=\"5\" failures=\"2\" errors=\"1\""),
        "{xml}"
    );
}

#[test]
fn json_difference_points_at_the_first_change() {
    let a = serde_json::json!({"metrics": {"a": 1, "b": 2}, "list": [1, 2]});
    let b = serde_json::json!({"metrics": {"a": 1, "b": 3}, "list": [1, 2, 3]});
    assert_eq!(json_difference(&a, &b, "").unwrap(), "/list: 2 items vs 3");
    let c = serde_json::json!({"metrics": {"a": 1, "b": 3}, "list": [1, 2]});
    assert_eq!(json_difference(&a, &c, "").unwrap(), "/metrics/b: 2 vs 3");
    assert_eq!(json_difference(&a, &a, ""), None);
}

#[test]
fn shell_quote_only_quotes_when_needed() {
    assert_eq!(shell_quote("scenarios/a-b_c.json"), "scenarios/a-b_c.json");
    assert_eq!(shell_quote("a b.json"), "'a b.json'");
    assert_eq!(shell_quote("it's.json"), r"'it'\''s.json'");
}
