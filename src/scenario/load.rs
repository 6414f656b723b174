//! Loading a scenario file: read it, parse it (JSON, or YAML for `.yaml`/`.yml` files) with errors that
//! name the field path, line and column, then validate it into a typed [`Plan`](super::plan::Plan).

use super::error::{check_objects, serde_error, syntax_error, ScenarioError};
use super::plan::Plan;
use super::spans::Spans;
use super::validate::Validator;
use crate::scenario::model::Scenario;
use std::io::Read;
use std::path::Path;

/// The largest scenario file read (16 MiB): the largest valid scenario (10,000 faults) is a few MiB,
/// and reading stops here, so `validate /dev/zero` ends at once instead of filling memory.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Reads and checks a scenario file. An unreadable, oversized or non-UTF-8 file is an error naming it.
pub fn load_scenario(path: &Path) -> Result<Plan, ScenarioError> {
    let file = path.display().to_string();
    let text = read_text(
        path,
        &file,
        "scenario",
        "; a scenario file is a small JSON object",
    )?;
    parse_scenario(&text, &file)
}

/// Reads a `what` file (scenario, plan...) of at most [`MAX_FILE_BYTES`] as UTF-8 text; `file` labels
/// the error, and `too_large` ends the message for an oversized file.
pub fn read_text(
    path: &Path,
    file: &str,
    what: &str,
    too_large: &str,
) -> Result<String, ScenarioError> {
    let fail = |why: String| {
        ScenarioError::whole_file(file, format!("cannot read the {what} file: {why}"))
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| fail(e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(fail(format!(
            "it is larger than {} MiB{too_large}",
            MAX_FILE_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|_| fail("it is not UTF-8 text".into()))
}

/// Parses scenario text and checks it: YAML when `file` ends in `.yaml` or `.yml`, else JSON. `file`
/// labels errors.
pub fn parse_scenario(text: &str, file: &str) -> Result<Plan, ScenarioError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut plan = parse_text(text, file).map_err(|e| e.with_source(text))?;
    plan.warnings = std::mem::take(&mut plan.warnings)
        .into_iter()
        .map(|w| w.with_source(text))
        .collect();
    Ok(plan)
}

fn parse_text(text: &str, file: &str) -> Result<Plan, ScenarioError> {
    if super::yaml::is_yaml(file) {
        let (value, spans) = super::yaml::to_json(text, file)?;
        check_objects(&spans, file)?;
        let scenario: Scenario = match serde_path_to_error::deserialize(value) {
            Ok(s) => s,
            Err(e) => return Err(serde_error(text, file, &spans, e)),
        };
        return Validator {
            file,
            spans: &spans,
            s: &scenario,
        }
        .run();
    }
    let spans = Spans::index(text);
    check_objects(&spans, file)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let scenario: Scenario = match serde_path_to_error::deserialize(&mut de) {
        Ok(s) => s,
        Err(e) => return Err(serde_error(text, file, &spans, e)),
    };
    if let Err(e) = de.end() {
        return Err(syntax_error(text, file, &e));
    }
    Validator {
        file,
        spans: &spans,
        s: &scenario,
    }
    .run()
}

/// Validates a scenario that was built in code rather than read from a file (`compare`'s mapped
/// designs, the library's tests): the same checks, without source positions. `label` names it in errors.
pub fn plan_scenario(scenario: &Scenario, label: &str) -> Result<Plan, ScenarioError> {
    Validator {
        file: label,
        spans: &Spans::default(),
        s: scenario,
    }
    .run()
}

pub use super::validate::known_metrics;
