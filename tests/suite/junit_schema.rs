//! `check --junit` output validated against the JUnit XML schema (testdata/junit.xsd) by a
//! schema-aware parser, libxml2's xmllint (Debian's libxml2-utils, installed by .ci/run). Without
//! xmllint the test is ignored with that reason (build.rs finds the tool).

use std::process::Command;

const SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/junit.xsd");

#[test]
#[cfg_attr(
    not(has_xmllint),
    ignore = "xmllint is not installed (apt-get install libxml2-utils; .ci/run installs it)"
)]
fn junit_output_validates_against_the_schema() {
    assert!(std::path::Path::new(SCHEMA).exists(), "{SCHEMA} is missing");
    let dir = std::env::temp_dir().join(format!("kube-ha-sim-junit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = r#""duration":"1m","topology":{"etcd":"stacked","control_plane_nodes":3},"load":{"target":"etcd"}"#;
    std::fs::write(
        dir.join("pass.json"),
        format!(
            r#"{{"name":"pass",{base},"expect":[{{"metric":"invariants.violations","equals":0}}]}}"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("fail.json"),
        format!(r#"{{"name":"fail & <odd>",{base},"expect":[{{"metric":"etcd.leader_changes","equals":99}}]}}"#),
    )
    .unwrap();
    std::fs::write(dir.join("invalid.json"), r#"{"name":"x","duration":5}"#).unwrap();
    let junit = dir.join("junit.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_kube-ha-sim"))
        .args([
            "check",
            dir.to_str().unwrap(),
            "--seeds",
            "1..2",
            "--junit",
            junit.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an invalid file makes the exit code 2"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<failure") && xml.contains("<error"), "{xml}");
    let v = Command::new("xmllint")
        .args(["--noout", "--schema", SCHEMA])
        .arg(&junit)
        .output()
        .unwrap();
    assert!(
        v.status.success(),
        "xmllint rejects the JUnit file: {}\n{xml}",
        String::from_utf8_lossy(&v.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
