//! The external tools of the browser and schema tests. Without them those tests are ignored with the
//! reason (see build.rs); in CI (`CI=true`, where `.ci/run` installs them) a missing tool is a failure,
//! so that a broken install cannot turn two checks off unnoticed.

#[test]
fn ci_has_chromium_and_xmllint() {
    if std::env::var("CI").as_deref() != Ok("true") {
        return;
    }
    let missing: Vec<&str> = [
        ("chromium (apt-get install chromium)", cfg!(has_chromium)),
        ("xmllint (apt-get install libxml2-utils)", cfg!(has_xmllint)),
    ]
    .iter()
    .filter(|(_, found)| !found)
    .map(|(name, _)| *name)
    .collect();
    assert!(
        missing.is_empty(),
        "CI=true but these tools were not found when the tests were built: {missing:?}"
    );
}

/// `scripts/pgo-build.sh` (the opt-in profile-guided build, README "Performance"): it is valid bash,
/// the files its training run names exist, and without the toolchain's `llvm-profdata` it stops at
/// once with exit code 2 and says how to install it, before building anything. (Its full run takes
/// minutes: it is run by hand, and checks its own binary against `reports/` exactly.)
#[test]
fn the_pgo_build_script_parses_names_real_files_and_refuses_without_llvm_profdata() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("scripts/pgo-build.sh");
    let text = std::fs::read_to_string(&script).expect("scripts/pgo-build.sh");
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash runs");
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    for named in [
        "scenarios/plans/stacked-vs-external.json",
        "scenarios",
        "reports",
    ] {
        assert!(text.contains(named), "the script no longer names {named}");
        assert!(root.join(named).exists(), "{named} is gone");
    }

    // A `rustc` whose sysroot has no llvm-tools component.
    let dir = std::env::temp_dir().join(format!("khs-pgo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fake = dir.join("rustc");
    std::fs::write(
        &fake,
        "#!/bin/sh\ncase \"$*\" in *sysroot*) echo /nonexistent-sysroot ;; *) echo 'host: x86_64-unknown-linux-gnu' ;; esac\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("bash")
        .arg(&script)
        .env("PATH", path)
        .output()
        .expect("bash runs");
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("rustup component add llvm-tools"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("instrumented build"),
        "it refused before building: {stderr}"
    );
}
