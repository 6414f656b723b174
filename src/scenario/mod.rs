//! The scenario file: its format (the serde mirror in [`model`]), loading with precise errors ([`load`],
//! [`error`], [`spans`], [`suggest`]), and validation ([`validate`]) that builds the typed [`plan`] which
//! everything downstream consumes.

pub mod alert_expect;
pub mod cert_clock;
pub mod error;
pub mod expect;
pub mod faults;
pub mod help;
pub mod load;
pub mod model;
pub mod plan;
pub mod spans;
pub mod suggest;
pub mod training;
pub mod validate;
pub mod yaml;

pub use error::ScenarioError;
pub use load::{load_scenario, parse_scenario, plan_scenario};
pub use model::Scenario;
pub use plan::Plan;
