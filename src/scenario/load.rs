//! Loading a scenario file: read it, parse it (JSON) with errors that name the field path, line and
//! column, then validate it into a typed [`Plan`](super::plan::Plan).

use super::error::{check_objects, serde_error, syntax_error, ScenarioError};
use super::plan::Plan;
use super::spans::Spans;
use super::validate::Validator;
use crate::scenario::model::Scenario;
use std::path::Path;

/// Reads and checks a scenario file. An unreadable file is an error naming it.
pub fn load_scenario(path: &Path) -> Result<Plan, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::InvalidData {
            "it is not UTF-8 text".to_string()
        } else {
            e.to_string()
        };
        ScenarioError::whole_file(&file, format!("cannot read the scenario file: {why}"))
    })?;
    parse_scenario(&text, &file)
}

/// Parses scenario text (JSON) and checks it. `file` only labels errors.
pub fn parse_scenario(text: &str, file: &str) -> Result<Plan, ScenarioError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    parse_text(text, file).map_err(|e| e.with_source(text))
}

fn parse_text(text: &str, file: &str) -> Result<Plan, ScenarioError> {
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
