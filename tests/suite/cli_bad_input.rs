//! The command line on bad input: exit code 2, a message naming the file and the field, never a panic
//! and never a half-written report.
//!
//! The messages themselves are golden files: for every `testdata/errors/NAME.json`, the exact stderr
//! of `kube-ha-sim validate testdata/errors/NAME.json` (run from the crate root, so the paths in the
//! messages are relative and stable) is `testdata/errors/NAME.stderr`. After a deliberate change of
//! the wording or rendering, `REWRITE=1 cargo test --test suite cli_bad_input` regenerates them
//! (and writes the golden of a newly added `.json`); review the diff.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::datadriven::{diff, files_in, rewrite_requested};

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

/// The rejections are golden files (`stacked-with-etcd-nodes`); these sizes are accepted.
#[test]
fn even_and_zero_external_etcd_sizes_are_allowed() {
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

const ERRORS: &str = "testdata/errors";

/// Runs the binary from the crate root; returns (exit code, stdout, stderr).
fn run_in_root(args: &[&str]) -> (i32, String, String) {
    let out = bin()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn error_messages_match_their_golden_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Scenario files in JSON and in YAML (`.yaml`).
    let mut inputs = files_in(&root.join(ERRORS), "json");
    inputs.extend(files_in(&root.join(ERRORS), "yaml"));
    inputs.sort();
    assert!(inputs.len() >= 40, "the bad inputs are missing");
    let out_dir = std::env::temp_dir().join(format!("kube-ha-sim-golden-{}", std::process::id()));
    let mut failures = String::new();
    for input in &inputs {
        let name = input.file_stem().unwrap().to_string_lossy().into_owned();
        let rel = format!("{ERRORS}/{}", input.file_name().unwrap().to_string_lossy());
        let golden = root.join(ERRORS).join(format!("{name}.stderr"));
        let (code, stdout, stderr) = run_in_root(&["validate", &rel]);
        // Every file here is bad input: exit code 2, nothing on stdout, no panic.
        assert_eq!(code, 2, "validate {rel}: exit code\n{stderr}");
        assert_eq!(stdout, "", "validate {rel}: stdout");
        assert!(!stderr.contains("panicked"), "validate {rel}: {stderr}");
        assert!(
            stderr.contains(&rel),
            "validate {rel}: names the file: {stderr}"
        );
        // `run` rejects it the same way, before writing anything.
        let run_out = out_dir.join(&name);
        let (run_code, _, run_err) =
            run_in_root(&["run", &rel, "--out", run_out.to_str().unwrap()]);
        assert_eq!(run_code, 2, "run {rel}: exit code\n{run_err}");
        assert!(
            run_err.contains(&rel) && !run_err.contains("panicked"),
            "run {rel}: {run_err}"
        );
        assert!(!run_out.exists(), "run {rel} wrote a report for bad input");

        if rewrite_requested() {
            std::fs::write(&golden, &stderr).expect("write golden");
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(want) if want == stderr => {}
            Ok(want) => failures.push_str(&format!(
                "\n{ERRORS}/{name}.stderr differs (- expected, + actual):\n{}",
                diff(&want, &stderr)
            )),
            Err(_) => failures.push_str(&format!("\n{rel}: no golden {ERRORS}/{name}.stderr")),
        }
    }
    // A golden whose input is gone is stale.
    for golden in files_in(&root.join(ERRORS), "stderr") {
        let json = golden.with_extension("json");
        assert!(
            json.exists() || golden.with_extension("yaml").exists(),
            "{} has no input {}",
            golden.display(),
            json.display()
        );
    }
    assert!(
        failures.is_empty(),
        "error messages differ from their golden files; if the change is intended, regenerate \
         with `REWRITE=1 cargo test --test suite cli_bad_input` and review the diff{failures}"
    );
}

#[test]
fn an_endless_input_is_refused_after_the_size_cap() {
    // `validate /dev/zero` once read 8.2 GB before failing.
    if !std::path::Path::new("/dev/zero").exists() {
        return;
    }
    let (code, err) = run(&["validate", "/dev/zero"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("/dev/zero") && err.contains("larger than 16 MiB"),
        "{err}"
    );
}

#[test]
fn an_output_folder_that_cannot_be_written_fails_before_the_run() {
    let blocker = file("not-a-folder", "a file where a folder would go");
    let ok = file("quick.json", &format!("{{{BASE}}}"));
    let out = bin()
        .args(["run", ok.to_str().unwrap(), "--out"])
        .arg(blocker.join("sub"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "nothing ran: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not-a-folder"), "{err}");
    // The same for check's JUnit report and its folder for failing seeds: refused before any
    // scenario runs.
    for flag in ["--junit", "--out"] {
        let out = bin()
            .args(["check", ok.to_str().unwrap(), flag])
            .arg(blocker.join("sub"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag}");
        assert!(
            out.stdout.is_empty(),
            "{flag}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("not-a-folder"));
    }
}

#[test]
fn a_run_replaces_its_output_folder_as_one_unit() {
    let dir = std::env::temp_dir().join(format!("kube-ha-sim-unit-{}", std::process::id()));
    let parent = dir.parent().unwrap().to_path_buf();
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    // What a killed earlier run left: a staging folder, and an old picture that is not a PNG.
    let stale = parent.join(format!(".{name}.staging1"));
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("timeline.png"), "an old picture").unwrap();
    let ok = file("unit.json", &format!("{{{BASE}}}"));
    let out = bin()
        .args(["run", ok.to_str().unwrap(), "--out", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "capacity.svg",
            "report.html",
            "report.json",
            "timeline.png",
            "timeline.svg"
        ]
    );
    assert!(std::fs::read(dir.join("timeline.png"))
        .unwrap()
        .starts_with(b"\x89PNG"));
    assert!(!stale.exists(), "the killed run's staging folder is gone");
    let staging_left = std::fs::read_dir(&parent)
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!(".{name}."))
        });
    assert!(!staging_left);
}

#[test]
fn compare_checks_its_output_folder_first_and_writes_it_as_one_unit() {
    // A folder that cannot be written: refused before either topology runs.
    let blocker = file("compare-blocker", "a file where a folder would go");
    let ok = file("cmp.json", &format!("{{{BASE}}}"));
    let out = bin()
        .args(["compare", ok.to_str().unwrap(), "--out"])
        .arg(blocker.join("sub"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // An earlier comparison's picture (not a PNG) is replaced with the new reports, and nothing
    // temporary is left beside the folder.
    let dir = std::env::temp_dir().join(format!("kube-ha-sim-cmp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("compare.png"), "an old picture").unwrap();
    let out = bin()
        .args([
            "compare",
            ok.to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "compare.png",
            "compare.svg",
            "external.json",
            "stacked.json"
        ]
    );
    assert!(std::fs::read(dir.join("compare.png"))
        .unwrap()
        .starts_with(b"\x89PNG"));
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let left = std::fs::read_dir(dir.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!(".{name}."))
        });
    assert!(!left, "no staging or temporary files left");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The README's table of bad inputs: each golden input with the first line of what `validate` says
/// (run afresh, so the table never reads a golden while another test rewrites it).
fn readme_table() -> String {
    let mut rows = vec!["| input | message |".to_string(), "|---|---|".to_string()];
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(ERRORS)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "yaml"))
        .collect();
    inputs.sort();
    for input in inputs {
        let name = input.file_stem().unwrap().to_string_lossy().into_owned();
        let rel = format!("{ERRORS}/{}", input.file_name().unwrap().to_string_lossy());
        let (_, _, err) = run_in_root(&["validate", &rel]);
        let first = err.lines().next().unwrap_or("");
        // `error: FILE:LINE:COL: rest` without the location.
        let message = first
            .split_once(": ")
            .and_then(|(_, rest)| rest.split_once(": "))
            .map_or(first, |(_, m)| m)
            .replace('|', "\\|");
        rows.push(format!("| `{name}` | {message} |"));
    }
    rows.join("\n")
}

#[test]
fn the_readme_lists_every_bad_input_with_its_message() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let start = "(generated from testdata/errors; tests/suite/cli_bad_input.rs checks it) -->\n";
    let end = "\n<!-- bad-inputs:end -->";
    let (a, rest) = readme
        .split_once(start)
        .expect("the README has the table's start marker");
    let (table, b) = rest
        .split_once(end)
        .expect("the README has the table's end marker");
    let want = readme_table();
    if rewrite_requested() {
        std::fs::write("README.md", format!("{a}{start}{want}{end}{b}")).unwrap();
        return;
    }
    assert_eq!(
        table, want,
        "the README's bad-input table is stale; REWRITE=1 cargo test --test suite cli_bad_input"
    );
}

#[test]
fn a_name_that_escapes_the_output_folder_writes_nothing_with_run_render_or_check_update() {
    // "../escaped-N" once made `run`, `render` and `check --update` write beside the output folder.
    let root = std::env::temp_dir().join(format!("kube-ha-sim-escape-{}", std::process::id()));
    let src = root.join("in");
    std::fs::create_dir_all(&src).unwrap();
    let escaped = format!("escaped-{}", std::process::id());
    let text =
        format!("{{{BASE}}}").replacen(r#""name":"x""#, &format!(r#""name":"../{escaped}""#), 1);
    assert!(text.contains("../escaped"), "{text}");
    let f = src.join("bad.json");
    std::fs::write(&f, &text).unwrap();
    let out = root.join("out").join("inner");
    let runs: [Vec<String>; 3] = [
        vec![
            "run".into(),
            f.display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ],
        vec![
            "render".into(),
            src.display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ],
        vec![
            "check".into(),
            src.display().to_string(),
            "--baseline".into(),
            out.display().to_string(),
            "--update".into(),
        ],
    ];
    for args in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("cannot name an output folder"),
            "{args:?}: {err}"
        );
    }
    assert!(!root.join("out").join(&escaped).exists());
    assert!(!root.join(&escaped).exists());
    assert!(!out.exists(), "nothing written at all");
    let _ = std::fs::remove_dir_all(&root);
}

/// `bench --simpy` with a twin script that is not there is refused with exit 2 and the path, before
/// any case runs (so it returns at once, with nothing on stdout).
#[test]
fn bench_with_a_missing_simpy_twin_is_bad_input_before_any_case() {
    let out = bin()
        .args([
            "bench",
            "--quick",
            "--simpy",
            "/nonexistent/simpy_etcd_idle.py",
        ])
        .output()
        .expect("the binary runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("/nonexistent/simpy_etcd_idle.py"), "{err}");
    assert!(out.stdout.is_empty(), "no case ran");
}
