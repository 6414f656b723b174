//! Finds the external tools two tests need (Debian's Chromium for the HTML report, libxml2's xmllint for
//! the JUnit schema) so that, without them, those tests are reported as *ignored, with the reason*
//! rather than passing silently. `.ci/run` installs both, and in CI a missing tool fails the suite
//! (`tests/suite/tools.rs`).

use std::path::Path;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(has_chromium)");
    println!("cargo::rustc-check-cfg=cfg(has_xmllint)");
    // Installing a package changes /usr/bin: look again then (cargo compares the folder's contents).
    println!("cargo::rerun-if-changed=/usr/bin");
    println!("cargo::rerun-if-changed=build.rs");
    if Path::new("/usr/bin/chromium").exists() {
        println!("cargo::rustc-cfg=has_chromium");
    }
    if on_path("xmllint") {
        println!("cargo::rustc-cfg=has_xmllint");
    }
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}
