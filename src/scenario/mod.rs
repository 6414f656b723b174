//! The scenario file: its format (serde), loading with precise errors, and semantic validation.

pub mod help;
pub mod load;
pub mod model;

pub use load::{load_scenario, parse_scenario, ScenarioError};
pub use model::Scenario;
