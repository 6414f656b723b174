use super::model::Scenario;
#[derive(Debug)]
pub struct ScenarioError { pub file: String, pub path: String, pub line: Option<usize>, pub column: Option<usize>, pub message: String }
impl std::fmt::Display for ScenarioError { fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result { write!(f, "{}", self.message) } }
pub fn parse_scenario(text: &str, file: &str) -> Result<Scenario, ScenarioError> { serde_json::from_str(text).map_err(|e| ScenarioError{file: file.into(), path: String::new(), line: None, column: None, message: e.to_string()}) }
pub fn load_scenario(path: &std::path::Path) -> Result<Scenario, ScenarioError> { let t = std::fs::read_to_string(path).unwrap(); parse_scenario(&t, "x") }
