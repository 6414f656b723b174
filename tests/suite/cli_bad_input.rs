//! The command line on bad input: exit code 2, a message naming the file and the field, never a panic
//! and never a half-written report.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kube-ha-sim"))
}

fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kube-ha-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs `args` and returns (exit code, stderr).
fn run(args: &[&str]) -> (i32, String) {
    let out = bin().args(args).output().expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const BASE: &str =
    r#""name":"x","duration":"1m","topology":{"etcd":"stacked","control_plane_nodes":3}"#;

fn assert_bad(name: &str, text: &str, needles: &[&str]) {
    let p = file(name, text);
    for cmd in ["validate", "run"] {
        let (code, err) = run(&[
            cmd,
            p.to_str().unwrap(),
            "--out",
            "/nonexistent-should-not-be-written",
        ][..if cmd == "run" { 4 } else { 2 }]);
        assert_eq!(code, 2, "{cmd} {name}: {err}");
        assert!(
            err.contains(name),
            "{cmd}: the message names the file: {err}"
        );
        for n in needles {
            assert!(err.contains(n), "{cmd} {name}: expected `{n}` in: {err}");
        }
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn malformed_json_names_line_and_column() {
    assert_bad(
        "malformed.json",
        "{\"name\": \"x\",\n  \"duration\": }",
        &[":2:"],
    );
}

#[test]
fn unknown_field_is_named_with_a_suggestion() {
    assert_bad(
        "unknown.json",
        &format!(r#"{{{BASE},"settings":{{"etcd":{{"heartbeat_intervall":"100ms"}}}}}}"#),
        &["settings.etcd.heartbeat_intervall", "heartbeat_interval"],
    );
}

#[test]
fn unitless_duration_is_rejected() {
    assert_bad(
        "unitless.json",
        r#"{"name":"x","duration":60,"topology":{"etcd":"stacked","control_plane_nodes":3}}"#,
        &["duration", "unit"],
    );
}

#[test]
fn unknown_target_is_named() {
    assert_bad(
        "target.json",
        &format!(r#"{{{BASE},"faults":[{{"at":"10s","kind":"crash","target":"cp-7"}}]}}"#),
        &["faults[0].target", "cp-7"],
    );
}

#[test]
fn etcd_nodes_with_stacked_is_rejected_but_even_and_zero_sizes_are_allowed() {
    assert_bad(
        "stacked-etcd-nodes.json",
        r#"{"name":"x","duration":"1m","topology":{"etcd":"stacked","control_plane_nodes":3,"etcd_nodes":3}}"#,
        &["topology.etcd_nodes"],
    );
    for (name, n) in [("even.json", 4), ("zero.json", 0)] {
        let p = file(
            name,
            &format!(
                r#"{{"name":"x","duration":"1m","topology":{{"etcd":"external","control_plane_nodes":3,"etcd_nodes":{n}}}}}"#
            ),
        );
        let (code, err) = run(&["validate", p.to_str().unwrap()]);
        assert_eq!(code, 0, "{name}: {err}");
    }
}

#[test]
fn absurd_duration_is_rejected() {
    assert_bad(
        "absurd.json",
        r#"{"name":"x","duration":"9999h","topology":{"etcd":"stacked","control_plane_nodes":3}}"#,
        &["duration"],
    );
}

#[test]
fn missing_file_is_bad_input() {
    let (code, err) = run(&["run", "/nonexistent/scenario.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/scenario.json"), "{err}");
}

#[test]
fn a_failed_expectation_exits_1_and_a_good_run_exits_0_with_its_report() {
    let dir = std::env::temp_dir().join(format!("kube-ha-sim-cli-out-{}", std::process::id()));
    let ok = file(
        "ok.json",
        &format!(
            r#"{{{BASE},"load":{{"target":"etcd"}},"expect":[{{"metric":"invariants.violations","equals":0}}]}}"#
        ),
    );
    let out = bin()
        .args(["run", ok.to_str().unwrap(), "--out", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["expectations"][0]["passed"], true);
    assert!(dir.join("report.html").exists() && dir.join("timeline.svg").exists());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
    let bad = file(
        "fail.json",
        &format!(
            r#"{{{BASE},"load":{{"target":"etcd"}},"expect":[{{"metric":"etcd.leader_changes","equals":99}}]}}"#
        ),
    );
    let out = bin()
        .args(["run", bad.to_str().unwrap(), "--out", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL etcd.leader_changes"));
}

#[test]
fn a_restore_from_the_future_is_rejected() {
    assert_bad(
        "restore.json",
        &format!(r#"{{{BASE},"faults":[{{"at":"10s","kind":"restore","snapshot_at":"20s"}}]}}"#),
        &["faults[0].snapshot_at"],
    );
}
