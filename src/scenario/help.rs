pub const SCENARIO_HELP: &str = "";
