//! Reports: JSON, the terminal summary, and writing files atomically.

pub mod capacity;
pub mod html;
pub mod json;
pub mod junit;
pub mod png;
pub mod svg;
pub mod text;

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes a file atomically: to a temporary file beside it, then renamed over it, so that a reader never
/// sees half a report.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Checks, before any work, that a file can be written at `path`: its folder is created and a probe
/// file is written and removed there. An existing folder at `path` is refused.
pub fn probe_writable(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Err(std::io::Error::other("it is a folder"));
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".probe.tmp{}", std::process::id()));
    std::fs::File::create(&probe)?;
    std::fs::remove_file(&probe)
}

/// Checks, before any work and without creating anything, that a folder could be made and written at
/// `dir`: its nearest existing ancestor must be a folder that takes a probe file (written and removed).
pub fn probe_folder(dir: &Path) -> std::io::Result<()> {
    let mut at = dir;
    while !at.as_os_str().is_empty() && !at.exists() {
        at = at.parent().unwrap_or(Path::new(""));
    }
    let at = if at.as_os_str().is_empty() {
        Path::new(".")
    } else {
        at
    };
    if !at.is_dir() {
        return Err(std::io::Error::other(format!(
            "{} is not a folder",
            at.display()
        )));
    }
    let probe = at.join(format!(".probe.tmp{}", std::process::id()));
    std::fs::File::create(&probe)?;
    std::fs::remove_file(&probe)
}

/// The files a run writes into its output folder.
pub const RUN_OUTPUTS: [&str; 5] = [
    "report.json",
    "report.html",
    "timeline.svg",
    "timeline.png",
    "capacity.svg",
];

/// The files `compare` and `sweep` write into their output folders (besides one report per design).
pub const OTHER_OUTPUTS: [&str; 4] = ["compare.svg", "compare.png", "sweep.json", "sizing.svg"];

/// A run's output folder, written as one unit: every file goes into a staging folder beside it and is
/// flushed to disk; `commit` then swaps the staging folder in, so a reader (or a later run after a
/// kill) never finds a new report beside an old picture. Staging folders left by a killed run are
/// removed by the next run of the same folder.
pub struct OutputDir {
    dir: PathBuf,
    staging: PathBuf,
}

impl OutputDir {
    /// Prepares `dir` before the run, so that a folder that cannot be written fails at once.
    pub fn begin(dir: &Path) -> Result<OutputDir, String> {
        let parent = dir
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{} cannot be an output folder", dir.display()))?;
        let fail = |what: &Path, e: std::io::Error| format!("cannot write {}: {e}", what.display());
        std::fs::create_dir_all(parent).map_err(|e| fail(parent, e))?;
        if dir.exists() && !dir.is_dir() {
            return Err(format!("{} exists and is not a folder", dir.display()));
        }
        let prefix = format!(".{name}.staging");
        if let Ok(entries) = std::fs::read_dir(parent) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let staging = parent.join(format!("{prefix}{}", std::process::id()));
        std::fs::create_dir_all(&staging).map_err(|e| fail(&staging, e))?;
        Ok(OutputDir {
            dir: dir.to_path_buf(),
            staging,
        })
    }

    /// The final folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where a file is staged (for writers that take a path, such as the PNG encoder).
    pub fn staged(&self, name: &str) -> PathBuf {
        self.staging.join(name)
    }

    /// Stages a file and flushes it to disk.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), String> {
        let path = self.staged(name);
        let mut f = std::fs::File::create(&path)
            .map_err(|e| format!("cannot write {}: {e}", self.dir.join(name).display()))?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", self.dir.join(name).display()))
    }

    /// Flushes a file a writer staged by path.
    pub fn sync(&self, name: &str) -> Result<(), String> {
        std::fs::File::open(self.staged(name))
            .and_then(|f| f.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", self.dir.join(name).display()))
    }

    /// Puts the staged files in place. A folder holding only outputs of this tool (a run's, a
    /// comparison's, a sweep's, or files this commit replaces) is swapped whole; a folder with other
    /// files of the user's gets each staged file renamed over its old one.
    pub fn commit(self) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("cannot write {}: {e}", self.dir.display());
        let ours_only = match std::fs::read_dir(&self.dir) {
            Err(_) => true,
            Ok(entries) => entries.flatten().all(|e| {
                let n = e.file_name();
                RUN_OUTPUTS.iter().chain(&OTHER_OUTPUTS).any(|o| n == *o)
                    || self.staging.join(&n).exists()
            }),
        };
        if ours_only {
            let mut old = self.staging.clone().into_os_string();
            old.push(".old");
            let old = PathBuf::from(old);
            if self.dir.exists() {
                std::fs::rename(&self.dir, &old).map_err(fail)?;
            }
            std::fs::rename(&self.staging, &self.dir).map_err(fail)?;
            let _ = std::fs::remove_dir_all(&old);
        } else {
            let entries = std::fs::read_dir(&self.staging).map_err(fail)?;
            for e in entries.flatten() {
                std::fs::rename(e.path(), self.dir.join(e.file_name())).map_err(fail)?;
            }
            let _ = std::fs::remove_dir(&self.staging);
        }
        if let Some(parent) = self.dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = std::fs::File::open(parent).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

impl Drop for OutputDir {
    /// A run that failed before `commit` leaves nothing behind.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.staging);
    }
}

/// Prints a plan's warnings (valid but hazardous settings) on stderr, for every command that loads
/// scenarios (`run`, `validate`, `check`).
pub fn print_warnings(plan: &crate::scenario::Plan) {
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
}
