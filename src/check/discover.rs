//! Finding the scenario files under the paths given, and loading them: an invalid file is reported as
//! an input error and the valid ones still run.

use super::runner::panic_text;
use super::InputError;
use crate::scenario::{load_scenario, Plan};
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// Finds the scenario files under `paths` (see the module documentation): sorted, without duplicates.
/// A path that does not exist, or a folder without any `*.json` file, is an input error.
pub fn discover(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<InputError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        match std::fs::metadata(p) {
            Err(e) => errors.push(InputError {
                path: p.clone(),
                message: format!("{}: cannot read it: {e}", p.display()),
            }),
            Ok(m) if m.is_dir() => {
                let before = files.len();
                walk(p, &mut files, &mut errors);
                if files.len() == before {
                    errors.push(InputError {
                        path: p.clone(),
                        message: format!(
                            "{}: no scenario files (*.json, *.yaml, *.yml) in this folder",
                            p.display()
                        ),
                    });
                }
            }
            Ok(_) => files.push(p.clone()),
        }
    }
    let mut seen = BTreeSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    files.sort();
    (files, errors)
}

/// Whether a folder holds outputs rather than scenarios: a run's output folder (it has the run's
/// `report.json`) or a cache such as cargo's `target/` (marked by a
/// `CACHEDIR.TAG`, the Cache Directory Tagging convention). `check .` must not take `out/NAME/report.json`
/// or cargo's fingerprints for scenario files.
fn is_output_folder(dir: &Path) -> bool {
    ["report.json", "CACHEDIR.TAG"]
        .iter()
        .any(|f| dir.join(f).is_file())
}

/// Adds the scenario files in `dir` and its subfolders to `files`, in name order, leaving out hidden
/// entries, baselines, capacity plans (`kube-ha-sim plan` files, such as `scenarios/plans/`), shard
/// files of `check --shard`, output
/// and cache folders ([`is_output_folder`]) and symbolic links to folders (which could loop).
fn walk(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<InputError>) {
    if is_output_folder(dir) {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(InputError {
                path: dir.to_path_buf(),
                message: format!("{}: cannot list the folder: {e}", dir.display()),
            });
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(&path, files, errors);
        } else if (name.ends_with(".json") || crate::scenario::yaml::is_yaml(&name))
            && !name.ends_with(".baseline.json")
            && !crate::capacity::model::is_plan_file(&path)
            && !super::shard::is_shard_file(&path)
            && !crate::capacity::shard::is_plan_shard_file(&path)
        {
            // A symbolic link counts when it leads to a file; links to folders are not followed.
            if ft.is_file() || std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                files.push(path);
            }
        }
    }
}

/// Loads a scenario file; a loader that panics is reported as an error, not passed on.
fn load(path: &Path) -> Result<Plan, String> {
    match catch_unwind(AssertUnwindSafe(|| load_scenario(path))) {
        Ok(Ok(s)) => {
            crate::report::print_warnings(&s);
            Ok(s)
        }
        Ok(Err(e)) => {
            let msg = e.to_string();
            let shown = path.display().to_string();
            Err(if msg.contains(&shown) {
                msg
            } else {
                format!("{shown}: {msg}")
            })
        }
        Err(p) => Err(format!(
            "{}: the scenario loader {}",
            path.display(),
            panic_text(p)
        )),
    }
}

/// Loads every file, in order; the invalid ones go to `input_errors`, the rest are returned.
pub(super) fn load_all(
    files: Vec<PathBuf>,
    input_errors: &mut Vec<InputError>,
) -> Vec<(PathBuf, Plan)> {
    let mut loaded: Vec<(PathBuf, Plan)> = Vec::new();
    for f in files {
        match load(&f) {
            Ok(s) => loaded.push((f, s)),
            Err(message) => input_errors.push(InputError { path: f, message }),
        }
    }
    loaded
}

/// Baselines are named after scenarios: two files with one name would share a baseline. Every
/// scenario with expectations whose name an earlier file already uses is moved to `input_errors`.
pub(super) fn reject_duplicate_names(
    loaded: &mut Vec<(PathBuf, Plan)>,
    input_errors: &mut Vec<InputError>,
) {
    let mut by_name: BTreeMap<&str, &Path> = BTreeMap::new();
    let mut dups = Vec::new();
    for (i, (p, s)) in loaded.iter().enumerate() {
        if s.expect.is_empty() {
            continue;
        }
        if let Some(first) = by_name.insert(&s.name, p) {
            dups.push((i, format!(
                "{}: scenario name {:?} is also used by {}; baselines are named after scenarios, so names must be unique",
                p.display(),
                s.name,
                first.display()
            )));
        }
    }
    for (i, message) in dups.into_iter().rev() {
        let (path, _) = loaded.remove(i);
        input_errors.push(InputError { path, message });
    }
}
