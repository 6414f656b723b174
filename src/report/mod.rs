//! Reports: JSON, the terminal summary, and writing files atomically.

pub mod html;
pub mod json;
pub mod junit;
pub mod png;
pub mod svg;
pub mod text;

use std::io::Write;
use std::path::Path;

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
