//! `kube-ha-sim render [PATH...] --out DIR`: runs every scenario and writes its report.json,
//! report.html and timeline pictures under DIR/NAME/ (the library's rendered reports in `reports/`).

use super::{write_pictures, EXIT_BAD_INPUT, EXIT_OK};
use crate::check::discover;
use crate::report;
use crate::run;
use crate::scenario::load_scenario;
use std::path::{Path, PathBuf};

/// Renders every scenario found under `paths` into `out`.
pub fn cmd_render(paths: &[PathBuf], out: &Path) -> i32 {
    let paths = if paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        paths.to_vec()
    };
    let (files, errors) = discover(&paths);
    for e in &errors {
        eprintln!("error: {e:?}");
    }
    let mut code = if errors.is_empty() {
        EXIT_OK
    } else {
        EXIT_BAD_INPUT
    };
    for f in files {
        let s = match load_scenario(&f) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                code = EXIT_BAD_INPUT;
                continue;
            }
        };
        let o = match run::run(&s, s.seed) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("error: {}: {e}", f.display());
                code = EXIT_BAD_INPUT;
                continue;
            }
        };
        let dir = out.join(&s.name);
        let replay = format!("kube-ha-sim run {} --seed {}", f.display(), s.seed);
        let json = serde_json::to_vec_pretty(&report::json::report(&o)).unwrap_or_default();
        if let Err(e) = report::OutputDir::begin(&dir).and_then(|staged| {
            staged.write("report.json", &json)?;
            write_pictures(&o, &staged, &replay)?;
            staged.commit()
        }) {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
        outln!(
            "{} {}",
            if o.passed() { "PASS" } else { "FAIL" },
            dir.display()
        );
    }
    code
}
