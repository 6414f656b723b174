//! `kube-ha-sim exercise`: the course in `scenarios/training/` end to end with scripted answers
//! (right ones score full marks and exit 0, wrong ones score 0 and exit 1), the answers checked
//! against what the views at the same moment show and against the model's timings, and the
//! scenario-file errors of `exercises`.

use kube_ha_sim::engine::{fmt_duration, SEC};
use kube_ha_sim::inspect::exercise::{grade, solve, Truth};
use kube_ha_sim::inspect::{print, Moment, Stream, View};
use kube_ha_sim::run::run;
use kube_ha_sim::scenario::{load_scenario, parse_scenario, Plan};
use std::path::{Path, PathBuf};
use std::process::Command;

fn course() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/training");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "the course is missing");
    files
}

/// The right answers of a file, from the simulation.
fn truths(plan: &Plan) -> Vec<Truth> {
    let o = run(plan, plan.seed).unwrap();
    plan.exercises
        .iter()
        .map(|ex| solve(ex, &Moment::at(plan, plan.seed, ex.at_ns).unwrap(), &o).truth)
        .collect()
}

/// An answer in the form a trainee would type it.
fn typed(t: &Truth) -> String {
    match t {
        Truth::Name(Some(n)) => n.clone(),
        Truth::Name(None) | Truth::Time(None) => "none".into(),
        Truth::Time(Some(ns)) => fmt_duration(*ns),
        Truth::YesNo(b) => if *b { "yes" } else { "no" }.into(),
    }
}

/// A wrong answer of the same form.
fn wrong(t: &Truth) -> String {
    match t {
        Truth::Name(Some(_)) => "none".into(),
        Truth::Name(None) | Truth::Time(None) => "cp-1".into(),
        Truth::Time(Some(ns)) => fmt_duration(ns + 60 * SEC),
        Truth::YesNo(b) => if *b { "no" } else { "yes" }.into(),
    }
}

fn exercise(file: &Path, answers: &[String]) -> (i32, String) {
    let a = std::env::temp_dir().join(format!(
        "kube-ha-sim-answers-{}-{}",
        std::process::id(),
        file.file_stem().unwrap().to_string_lossy()
    ));
    std::fs::write(&a, format!("# scripted\n{}\n", answers.join("\n"))).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kube-ha-sim"))
        .args(["exercise", file.to_str().unwrap(), "--answers"])
        .arg(&a)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_course_runs_end_to_end_with_right_and_wrong_answers() {
    for file in course() {
        let plan = load_scenario(&file).unwrap();
        assert!(!plan.exercises.is_empty(), "{}", file.display());
        assert!(plan.expect.is_empty(), "course files are skipped by check");
        let truths = truths(&plan);
        let n = truths.len();
        let (code, out) = exercise(&file, &truths.iter().map(typed).collect::<Vec<_>>());
        assert_eq!(code, 0, "{}:\n{out}", file.display());
        assert!(out.contains(&format!("score: {n} of {n} right")), "{out}");
        assert_eq!(out.matches("\nright: ").count(), n, "{out}");
        let (code, out) = exercise(&file, &truths.iter().map(wrong).collect::<Vec<_>>());
        assert_eq!(code, 1, "{}:\n{out}", file.display());
        assert!(out.contains(&format!("score: 0 of {n} right")), "{out}");
        // Every wrong answer is told the right one and why.
        assert_eq!(out.matches("\nwrong: the answer is ").count(), n, "{out}");
        // No answers at all (end of input) count as wrong, not as an error.
        let (code, out) = exercise(&file, &[]);
        assert_eq!(code, 1, "{out}");
    }
}

fn course_file(stem: &str) -> Plan {
    let p = course()
        .into_iter()
        .find(|p| p.file_stem().unwrap().to_string_lossy().starts_with(stem))
        .unwrap();
    load_scenario(&p).unwrap()
}

#[test]
fn the_etcd_leader_answer_is_what_endpoint_status_shows() {
    let plan = course_file("01-");
    let o = run(&plan, plan.seed).unwrap();
    for ex in plan
        .exercises
        .iter()
        .filter(|e| e.question.name() == "etcd-leader")
    {
        let m = Moment::at(&plan, plan.seed, ex.at_ns).unwrap();
        let Truth::Name(Some(leader)) = solve(ex, &m, &o).truth else {
            panic!("a leader at {}", ex.at_ns)
        };
        let status = print(View::EndpointStatus, &m);
        let row = status
            .lines
            .iter()
            .filter(|(s, _)| *s == Stream::Stdout)
            .find(|(_, l)| l.contains("|      true |"))
            .unwrap();
        let ordinal = leader.trim_start_matches("cp-");
        assert!(
            row.1.contains(&format!("https://10.0.1.{ordinal}:2379")),
            "{leader}: {}",
            row.1
        );
    }
    // The crashed leader's successor is another member, elected within the randomized election
    // timeout (1-2 s with the defaults, counted from the last heartbeat heard) of the crash at 2m.
    let t = truths(&plan);
    assert_ne!(t[0], t[2]);
    let Truth::Time(Some(regained)) = t[1] else {
        panic!("{:?}", t[1])
    };
    assert!(
        (120 * SEC + 1..=122 * SEC).contains(&regained),
        "{regained}"
    );
}

#[test]
fn answers_follow_the_story_of_each_course_file() {
    // Two of three stacked members gone: no leader, no API; quorum only after the nodes return
    // at 4m and boot.
    let t = truths(&course_file("02-"));
    assert_eq!(t[0], Truth::Name(None));
    assert_eq!(t[1], Truth::YesNo(false));
    assert!(
        matches!(t[2], Truth::Time(Some(at)) if at > 240 * SEC),
        "{:?}",
        t[2]
    );
    // The VIP moves to the other load balancer; right after the crash nobody answers for it.
    let t = truths(&course_file("03-"));
    assert_ne!(t[0], t[2]);
    assert_eq!(t[1], Truth::YesNo(false));
    // Another scheduler restores scheduling.
    let t = truths(&course_file("04-"));
    assert_ne!(t[0], t[1]);
    // The drill: no leader after the wipe; quorum only with the restore at 4m.
    let t = truths(&course_file("06-"));
    assert_eq!(t[0], Truth::Name(None));
    assert!(
        matches!(t[1], Truth::Time(Some(at)) if at >= 240 * SEC),
        "{:?}",
        t[1]
    );
    assert_eq!(t[2], Truth::YesNo(true));
    // Four members, two lost: no quorum (three of four needed), so no API, until the nodes are back.
    let t = truths(&course_file("07-"));
    assert!(
        matches!(&t[0], Truth::Name(Some(n)) if n.starts_with("etcd-")),
        "{:?}",
        t[0]
    );
    assert_eq!(t[1], Truth::YesNo(false));
    assert!(
        matches!(t[2], Truth::Time(Some(at)) if at > 240 * SEC),
        "{:?}",
        t[2]
    );
}

#[test]
fn names_are_accepted_in_the_forms_a_trainee_writes() {
    let plan = course_file("04-");
    let ex = &plan.exercises[1];
    let truth = Truth::Name(Some("cp-2/kube-scheduler".into()));
    for ok in [
        "cp-2/kube-scheduler",
        " CP-2/kube-scheduler ",
        "cp-2",
        "kube-scheduler-cp-2",
    ] {
        assert!(grade(ex, &truth, ok), "{ok}");
    }
    for bad in ["cp-3", "cp-2/kube-apiserver", "kube-scheduler", "", "none"] {
        assert!(!grade(ex, &truth, bad), "{bad}");
    }
    let time = &course_file("01-").exercises[1];
    let t = Truth::Time(Some(121 * SEC));
    assert!(grade(time, &t, "2m1s") && grade(time, &t, "2m5s") && grade(time, &t, "1m57s"));
    assert!(!grade(time, &t, "2m7s") && !grade(time, &t, "never") && !grade(time, &t, "121"));
}

#[test]
fn exercises_with_bad_fields_are_refused_with_the_allowed_values() {
    let base =
        r#""name":"x","duration":"5m","topology":{"etcd":"stacked","control_plane_nodes":3}"#;
    for (ex, want) in [
        (
            r#"{"at":"1m","ask":"etcd-leadr"}"#,
            "field `exercises[0].ask`: unknown question `etcd-leadr` (did you mean `etcd-leader`?); allowed: vip-holder, etcd-leader, quorum-regained, scheduling-restored-by, reconciliation-restored-by, api-answers",
        ),
        (
            r#"{"at":"6m","ask":"etcd-leader"}"#,
            "field `exercises[0].at`: 6m is after the end of the run (duration 5m)",
        ),
        (
            r#"{"at":"1m","ask":"vip-holder"}"#,
            "field `exercises[0].ask`: `vip-holder` needs a VIP",
        ),
        (
            r#"{"at":"1m","ask":"etcd-leader","views":["nodez"]}"#,
            "field `exercises[0].views[0]`: unknown view `nodez` (did you mean `nodes`?); allowed: nodes, pods",
        ),
        (
            r#"{"at":"1m","ask":"etcd-leader","tolerance":"5s"}"#,
            "field `exercises[0].tolerance`: `etcd-leader` is not answered with a time",
        ),
        (
            r#"{"at":"1m","ask":"etcd-leader","hint":"x"}"#,
            "unknown field `hint`",
        ),
    ] {
        let text = format!(r#"{{{base},"exercises":[{ex}]}}"#);
        let err = parse_scenario(&text, "t.json").unwrap_err().to_string();
        assert!(err.contains(want), "{ex}:\n{err}");
    }
}

#[test]
fn a_scenario_without_exercises_is_bad_input_for_exercise() {
    let out = Command::new(env!("CARGO_BIN_EXE_kube-ha-sim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["exercise", "testdata/inspect/healthy.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: testdata/inspect/healthy.json: the scenario has no `exercises`; add some (see `kube-ha-sim help scenario`)\n"
    );
}
