//! The user's first steps (issue 17): `new` writes a starting scenario that validates and passes its
//! own expectations, never overwrites, and `completions` prints a script for the shell.

fn temp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("khs-workflow-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn khs(args: &[&str], dir: &std::path::Path) -> (i32, String, String) {
    crate::common::run_bin(Some(dir), args)
}

#[test]
fn new_scenarios_validate_and_pass_their_own_expectations() {
    let d = temp("new");
    for (file, topology) in [
        ("stacked.yaml", "stacked"),
        ("external.yml", "external"),
        ("plain.json", "external"),
    ] {
        let (code, _, err) = khs(&["new", file, "--topology", topology], &d);
        assert_eq!(code, 0, "{file}: {err}");
        let text = std::fs::read_to_string(d.join(file)).unwrap();
        assert_eq!(
            text.contains("# "),
            file.ends_with(".yaml") || file.ends_with(".yml")
        );
        assert!(text.contains(topology), "{file} is {topology}");
        let (code, out, err) = khs(&["check", file], &d);
        assert_eq!(code, 0, "{file}:\n{out}\n{err}");
        assert!(out.contains("PASS"), "{out}");
    }
    // Never overwrites: exit 2, the file unchanged.
    std::fs::write(d.join("mine.yaml"), "keep me").unwrap();
    let (code, _, err) = khs(&["new", "mine.yaml"], &d);
    assert_eq!(code, 2);
    assert!(err.contains("mine.yaml") && err.contains("exists"), "{err}");
    assert_eq!(
        std::fs::read_to_string(d.join("mine.yaml")).unwrap(),
        "keep me"
    );
}

#[test]
fn completions_list_the_commands() {
    let d = temp("completions");
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = khs(&["completions", shell], &d);
        assert_eq!(code, 0, "{err}");
        for cmd in ["run", "check", "validate", "new", "plan"] {
            assert!(out.contains(cmd), "{shell} completions lack {cmd}");
        }
    }
    let (code, _, err) = khs(&["completions", "tcsh"], &d);
    assert_eq!(code, 2, "an unknown shell is bad input: {err}");
}

#[test]
fn render_needs_an_output_folder() {
    // It used to write into reports/ unless told, over the library's rendered reports.
    let d = temp("render");
    let (code, _, err) = khs(&["render", "nothing-here"], &d);
    assert_eq!(code, 2);
    assert!(err.contains("--out"), "{err}");
}

#[test]
fn a_run_that_never_reaches_steady_state_exits_1_even_without_expectations() {
    let d = temp("unsteady");
    std::fs::write(
        d.join("u.json"),
        r#"{"name":"u","duration":"30s","topology":{"etcd":"stacked","control_plane_nodes":3},
            "faults":[{"at":"0s","kind":"crash","target":"cp-1"},{"at":"0s","kind":"crash","target":"cp-2"}]}"#,
    )
    .unwrap();
    let (code, out, err) = khs(&["run", "u.json", "--out", "o"], &d);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("NEVER REACHED STEADY STATE"), "{out}");
    assert!(
        out.contains(
            "result: FAIL (0 of 0 expectations hold; the cluster never reached steady state)"
        ),
        "{out}"
    );
}

#[test]
fn compare_takes_any_designs_each_judged_by_its_own_expectations() {
    let d = temp("compare");
    let (code, _, err) = khs(&["new", "three.yaml"], &d);
    assert_eq!(code, 0, "{err}");
    let three = std::fs::read_to_string(d.join("three.yaml")).unwrap();
    // Five external members, and an expectation this design cannot meet.
    let five = three
        .replace("name: three ", "name: five ")
        .replace("etcd: stacked", "etcd: external")
        .replace(
            "control_plane_nodes: 3 ",
            "control_plane_nodes: 3\n  etcd_nodes: 5 ",
        )
        .replace("at_most: 6", "at_most: 0.001");
    std::fs::write(d.join("five.yaml"), five).unwrap();
    let (code, out, err) = khs(&["compare", "three.yaml", "five.yaml", "--out", "cmp"], &d);
    assert_eq!(code, 1, "five fails its own expectation:\n{out}\n{err}");
    let header = out.lines().nth(1).unwrap();
    assert!(header.contains("three") && header.contains("five"), "{out}");
    assert!(out.contains("* result"), "the verdicts differ:\n{out}");
    for f in ["compare.svg", "compare.png", "three.json", "five.json"] {
        assert!(d.join("cmp").join(f).is_file(), "{f}");
    }
    let five_report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("cmp/five.json")).unwrap()).unwrap();
    assert_eq!(
        five_report["topology"]["etcd_nodes"], 5,
        "run as written, not flipped"
    );
    let svg = std::fs::read_to_string(d.join("cmp/compare.svg")).unwrap();
    assert_eq!(svg.matches("class=\"run\"").count(), 2);
    // Without the failing design, the comparison passes.
    let (code, _, err) = khs(
        &["compare", "three.yaml", "three.yaml", "--out", "same"],
        &d,
    );
    assert_eq!(code, 0, "{err}");
    assert!(d.join("same/three-1.json").is_file() && d.join("same/three-2.json").is_file());
}

#[test]
fn a_run_replaces_the_whole_output_folder_capacity_picture_included() {
    // capacity.svg was missing from the run's own outputs, so a folder holding one was treated as
    // the user's and a stale picture stayed beside the next run's report.
    let d = temp("stale");
    let base = r#""duration":"1m","topology":{"etcd":"stacked","control_plane_nodes":3}"#;
    std::fs::write(
        d.join("loaded.json"),
        format!(r#"{{"name":"a",{base},"load":{{"requests_per_second":20}}}}"#),
    )
    .unwrap();
    std::fs::write(
        d.join("idle.json"),
        format!(r#"{{"name":"b",{base},"load":{{"requests_per_second":0}}}}"#),
    )
    .unwrap();
    assert_eq!(khs(&["run", "loaded.json", "--out", "o"], &d).0, 0);
    assert!(d.join("o/capacity.svg").is_file());
    assert_eq!(khs(&["run", "idle.json", "--out", "o"], &d).0, 0);
    assert!(
        !d.join("o/capacity.svg").exists(),
        "a stale capacity.svg stayed"
    );
    assert!(d.join("o/report.json").is_file());
}

#[test]
fn sweep_loses_what_lose_names() {
    // issue 14: the failure half of a sweep always lost cp-1; --lose names what it loses.
    let d = temp("sweep-lose");
    std::fs::write(
        d.join("s.json"),
        r#"{"name":"s","duration":"40s","topology":{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]},
            "load":{"requests_per_second":20,"write_ratio":0.5,"start":"20s"}}"#,
    )
    .unwrap();
    let vary = "load.requests_per_second=20..40:20";
    let (code, out, err) = khs(
        &[
            "sweep", "s.json", "--vary", vary, "--lose", "lb-1", "--out", "o",
        ],
        &d,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("lb-1 lost none of the range"),
        "the only load balancer lost: {out}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("o/sweep.json")).unwrap()).unwrap();
    assert_eq!(report["lost"], "lb-1");
    assert_eq!(report["largest_within_slo"]["all_up"], 40.0);
    // Both SLOs are judged: the read-only one's metric is named and measured at every point.
    assert_eq!(
        report["slo"]["readonly_metric"],
        "api.readonly_latency_p99_ms"
    );
    assert!(report["points"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["metrics"]["api.readonly_latency_p99_ms"].is_number()));
    let (code, _, err) = khs(&["sweep", "s.json", "--vary", vary, "--lose", "cp-9"], &d);
    assert_eq!(code, 2);
    assert!(err.contains("cp-9") && err.contains("--lose"), "{err}");
}
