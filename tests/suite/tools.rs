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
