//! The plan file (CONTRACT.md, "Capacity planning"): its serde mirror, and the typed
//! [`CapacityPlan`] that loading builds from it. Errors name the file, the field path, line and column,
//! as scenario errors do ([`ScenarioError`]), and each design is validated as the scenario it stands for.

use crate::observe::catalog::Capability;
use crate::scenario::error::error_at;
use crate::scenario::model::Dur;
use crate::scenario::spans::Spans;
use crate::scenario::suggest::suggest;
use crate::scenario::{parse_scenario, Plan, ScenarioError};
use crate::topology::NodeKind;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::Path;

/// The plan file's mirror.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default = "default_years")]
    pub years: u64,
    /// A scenario object, or the path of a scenario file (relative to the plan file's folder).
    pub base: Value,
    /// Each `{ "name": ..., <scenario fields to overlay> }`; none means the base alone.
    #[serde(default)]
    pub designs: Vec<Value>,
    pub failures: Vec<FailureSpec>,
    #[serde(default)]
    pub repair: RepairSpec,
    /// How many detailed runs (seeds) measure each distinct transition between failure modes.
    #[serde(default = "default_samples")]
    pub transition_samples: u32,
    #[serde(default)]
    pub expect: Vec<PlanExpectation>,
}

fn default_seed() -> u64 {
    1
}
/// 10,000 cluster-years: the figure for a per-design answer; a few seconds of process
/// simulation per design.
fn default_years() -> u64 {
    10_000
}
/// Four seeds per transition: enough to see an election's spread (1-2 s) without a long wait.
fn default_samples() -> u32 {
    4
}

/// What fails: every node of a class on its own, or a whole zone.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum FailureClass {
    ControlPlane,
    Etcd,
    Worker,
    LoadBalancer,
    Zone,
}

impl FailureClass {
    /// Every class, in the order modes name them.
    pub const ALL: [FailureClass; 5] = [
        FailureClass::ControlPlane,
        FailureClass::Etcd,
        FailureClass::LoadBalancer,
        FailureClass::Worker,
        FailureClass::Zone,
    ];

    /// The name in files.
    pub fn name(self) -> &'static str {
        match self {
            FailureClass::ControlPlane => "control-plane",
            FailureClass::Etcd => "etcd",
            FailureClass::Worker => "worker",
            FailureClass::LoadBalancer => "load-balancer",
            FailureClass::Zone => "zone",
        }
    }

    /// The node kind whose nodes fail with this class (None for zones).
    pub fn node_kind(self) -> Option<NodeKind> {
        match self {
            FailureClass::ControlPlane => Some(NodeKind::ControlPlane),
            FailureClass::Etcd => Some(NodeKind::Etcd),
            FailureClass::Worker => Some(NodeKind::Worker),
            FailureClass::LoadBalancer => Some(NodeKind::LoadBalancer),
            FailureClass::Zone => None,
        }
    }
}

/// The shape of a time-to-failure or time-to-repair distribution.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DistributionKind {
    /// Memoryless: the rate is 1/mean.
    #[default]
    Exponential,
    /// Weibull with `shape` k (k < 1 infant mortality, k > 1 wear-out), scaled to the given mean.
    Weibull,
    /// Always exactly the mean (a fixed repair procedure).
    Deterministic,
}

impl DistributionKind {
    /// Every kind, for "allowed: ..." lists.
    pub const NAMES: [&'static str; 3] = ["exponential", "weibull", "deterministic"];
}

/// One failure process.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureSpec {
    pub class: FailureClass,
    pub mttf: Dur,
    pub mttr: Dur,
    /// Of the time to failure.
    #[serde(default)]
    pub distribution: DistributionKind,
    /// The Weibull shape of the time to failure.
    #[serde(default)]
    pub shape: Option<f64>,
    /// Of the time to repair.
    #[serde(default)]
    pub repair_distribution: DistributionKind,
    /// The Weibull shape of the time to repair.
    #[serde(default)]
    pub repair_shape: Option<f64>,
}

/// `repair`: `{"crews": "per-node" | N}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepairSpec {
    #[serde(default)]
    pub crews: Option<Value>,
}

/// An expectation on one design's metric.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanExpectation {
    pub design: String,
    pub metric: String,
    #[serde(default)]
    pub at_least: Option<f64>,
    #[serde(default)]
    pub at_most: Option<f64>,
    #[serde(default)]
    pub equals: Option<f64>,
}

// ---------------------------------------------------------------------------------------------------
// The typed plan

/// A distribution with its mean, in hours.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    Exponential { mean_h: f64 },
    Weibull { mean_h: f64, shape: f64 },
    Deterministic { mean_h: f64 },
}

impl Distribution {
    /// The mean, hours.
    pub fn mean_h(self) -> f64 {
        match self {
            Distribution::Exponential { mean_h }
            | Distribution::Weibull { mean_h, .. }
            | Distribution::Deterministic { mean_h } => mean_h,
        }
    }

    /// Whether it is memoryless (the exact Markov solution applies).
    pub fn is_exponential(self) -> bool {
        match self {
            Distribution::Exponential { .. } => true,
            Distribution::Weibull { .. } | Distribution::Deterministic { .. } => false,
        }
    }

    /// The name and parameters, for the report.
    pub fn describe(self) -> String {
        match self {
            Distribution::Exponential { mean_h } => format!("exponential, mean {mean_h} h"),
            Distribution::Weibull { mean_h, shape } => {
                format!("weibull shape {shape}, mean {mean_h} h")
            }
            Distribution::Deterministic { mean_h } => format!("deterministic {mean_h} h"),
        }
    }
}

/// One class's failure and repair.
#[derive(Clone, Debug)]
pub struct FailureProcess {
    pub class: FailureClass,
    pub ttf: Distribution,
    pub ttr: Distribution,
}

/// Who repairs failed nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crews {
    /// Every failed node is repaired at once, in parallel.
    PerNode,
    /// This many crews, each repairing one node at a time, first failed first repaired. Zones are
    /// repaired by their provider, not by the crews.
    Shared(u32),
}

impl Crews {
    /// The name as the file writes it.
    pub fn describe(self) -> String {
        match self {
            Crews::PerNode => "per-node".into(),
            Crews::Shared(n) => format!("{n} shared"),
        }
    }
}

/// One design: the base with its overlay, validated as a scenario.
#[derive(Clone, Debug)]
pub struct Design {
    pub name: String,
    pub scenario: Plan,
    /// The design's repair crews (its own `repair`, else the plan's).
    pub crews: Crews,
}

/// The bound of a plan expectation.
pub use crate::scenario::expect::Bound;

/// An expectation on a design's metric.
#[derive(Clone, Debug)]
pub struct DesignExpectation {
    pub design: String,
    pub metric: String,
    pub bound: Bound,
}

/// A whole plan, resolved.
#[derive(Clone, Debug)]
pub struct CapacityPlan {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub years: u64,
    pub transition_samples: u32,
    pub designs: Vec<Design>,
    pub failures: Vec<FailureProcess>,
    pub crews: Crews,
    pub expect: Vec<DesignExpectation>,
}

impl CapacityPlan {
    /// The failure process of a class, if the plan gives one.
    pub fn failure(&self, class: FailureClass) -> Option<&FailureProcess> {
        self.failures.iter().find(|f| f.class == class)
    }
}

/// The per-capability metric names of `plan.json`, `C.` + each.
pub const CAPABILITY_METRICS: [&str; 12] = [
    "availability",
    "availability_ci95_low",
    "availability_ci95_high",
    "nines",
    "downtime_min_per_year",
    "outages_per_year",
    "mean_outage_s",
    "p99_outage_s",
    "mode_unavailability",
    "transition_downtime_min_per_year",
    "transition_downtime_spread_min_per_year",
    "simulated_availability",
];

/// Every metric name a plan expectation may bound.
pub fn known_metrics() -> Vec<String> {
    let mut names: Vec<String> = Capability::ALL
        .iter()
        .flat_map(|c| {
            CAPABILITY_METRICS
                .iter()
                .map(move |m| format!("{}.{m}", c.name()))
        })
        .collect();
    names.push("etcd_quorum.mttf_h".into());
    names.push("etcd_quorum.simulated_mttf_h".into());
    names
}

// ---------------------------------------------------------------------------------------------------
// Loading

/// Whether a file is a capacity plan rather than a scenario: a JSON object with the plan's required
/// `base` and `failures`, which no scenario has. Folder walks (`check`, `render`) leave plans out.
pub fn is_plan_file(path: &Path) -> bool {
    let Ok(text) = read_text(path, "", "plan") else {
        return false;
    };
    let value = if crate::scenario::yaml::is_yaml(&path.display().to_string()) {
        crate::scenario::yaml::to_json(&text, "")
            .ok()
            .map(|(v, _)| v)
    } else {
        serde_json::from_str::<Value>(&text).ok()
    };
    match value {
        Some(Value::Object(o)) => o.contains_key("base") && o.contains_key("failures"),
        _ => false,
    }
}

/// Reads and checks a plan file.
pub fn load_plan(path: &Path) -> Result<CapacityPlan, ScenarioError> {
    let file = path.display().to_string();
    let text = read_text(path, &file, "plan")?;
    let dir = path.parent().unwrap_or(Path::new("."));
    parse_plan(&text, &file, dir)
}

/// A plan or base scenario file as text, read as the scenario loader reads scenarios.
fn read_text(path: &Path, file: &str, what: &str) -> Result<String, ScenarioError> {
    crate::scenario::load::read_text(path, file, what, "")
}

/// A serde error in a plan file (JSON or YAML), with the scenario loader's hints in a plan's words.
fn plan_serde_error(
    text: &str,
    file: &str,
    spans: &Spans,
    e: serde_path_to_error::Error<serde_json::Error>,
) -> ScenarioError {
    let mut e = crate::scenario::error::serde_error(text, file, spans, e);
    e.message = e.message.replace(
        "a scenario needs at least `name`, `duration` and `topology`",
        "a plan needs at least `name`, `base` and `failures`",
    );
    e.with_source(text)
}

/// Parses plan text (JSON, or YAML when `file` ends in `.yaml`/`.yml`). `file` labels errors; `dir`
/// resolves a `base` given as a path.
pub fn parse_plan(text: &str, file: &str, dir: &Path) -> Result<CapacityPlan, ScenarioError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if crate::scenario::yaml::is_yaml(file) {
        let (value, spans) =
            crate::scenario::yaml::to_json(text, file).map_err(|e| e.with_source(text))?;
        let at = At {
            file,
            spans: &spans,
        };
        if !value.is_object() {
            return Err(at
                .err(
                    "",
                    "a plan file is a mapping with at least `name`, `base` and `failures`".into(),
                )
                .with_source(text));
        }
        let raw: PlanFile = match serde_path_to_error::deserialize(value) {
            Ok(p) => p,
            Err(e) => return Err(plan_serde_error(text, file, &spans, e)),
        };
        return build(&raw, &at, dir).map_err(|e| e.with_source(text));
    }
    let spans = Spans::index(text);
    let at = At {
        file,
        spans: &spans,
    };
    if text.trim().is_empty() {
        return Err(at.err("", "the file is empty; a plan is a JSON object with at least `name`, `base` and `failures`".into()));
    }
    if spans.starts.get("").is_some_and(|c| *c != '{') {
        return Err(at.err("", format!(
            "a plan file is a JSON object ({{ \"name\": ..., \"base\": {{...}}, \"failures\": [...] }}), found {}",
            spans.found("")
        )));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let raw: PlanFile = match serde_path_to_error::deserialize(&mut de) {
        Ok(p) => p,
        Err(e) => return Err(plan_serde_error(text, file, &spans, e)),
    };
    if let Err(e) = de.end() {
        return Err(crate::scenario::error::syntax_error(text, file, &e).with_source(text));
    }
    build(&raw, &at, dir).map_err(|e| e.with_source(text))
}

/// Where errors point: the plan file and its spans.
struct At<'a> {
    file: &'a str,
    spans: &'a Spans,
}

impl At<'_> {
    fn err(&self, path: &str, message: String) -> ScenarioError {
        error_at(self.file, path.to_string(), self.spans.value(path), message)
    }
}

/// Builds the typed plan from the mirror, checking every rule.
fn build(raw: &PlanFile, at: &At, dir: &Path) -> Result<CapacityPlan, ScenarioError> {
    if !(1..=100_000_000).contains(&raw.years) {
        return Err(at.err(
            "years",
            format!(
                "{} is out of range; allowed: 1 to 100000000 cluster-years",
                raw.years
            ),
        ));
    }
    if !(1..=64).contains(&raw.transition_samples) {
        return Err(at.err(
            "transition_samples",
            format!(
                "{} is out of range; allowed: 1 to 64 detailed runs per transition",
                raw.transition_samples
            ),
        ));
    }
    let failures = failures(raw, at)?;
    let crews = crews(raw, at)?;
    let base = base_object(raw, at, dir)?;
    let designs = designs(raw, at, &base, crews)?;
    let expect = expectations(raw, at, &designs)?;
    Ok(CapacityPlan {
        name: raw.name.clone(),
        description: raw.description.clone(),
        seed: raw.seed,
        years: raw.years,
        transition_samples: raw.transition_samples,
        designs,
        failures,
        crews,
        expect,
    })
}

fn failures(raw: &PlanFile, at: &At) -> Result<Vec<FailureProcess>, ScenarioError> {
    if raw.failures.is_empty() {
        return Err(at.err("failures", "a plan needs at least one failure process, e.g. {\"class\": \"etcd\", \"mttf\": \"2000h\", \"mttr\": \"8h\"}".into()));
    }
    let mut out: Vec<FailureProcess> = Vec::new();
    for (i, f) in raw.failures.iter().enumerate() {
        let p = format!("failures[{i}]");
        if let Some(j) = out.iter().position(|o| o.class == f.class) {
            return Err(at.err(
                &format!("{p}.class"),
                format!(
                    "class `{}` is already given in failures[{j}]; give each class once",
                    f.class.name()
                ),
            ));
        }
        let ttf = distribution(
            at,
            &p,
            "mttf",
            f.mttf,
            f.distribution,
            f.shape,
            "distribution",
            "shape",
        )?;
        let ttr = distribution(
            at,
            &p,
            "mttr",
            f.mttr,
            f.repair_distribution,
            f.repair_shape,
            "repair_distribution",
            "repair_shape",
        )?;
        out.push(FailureProcess {
            class: f.class,
            ttf,
            ttr,
        });
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn distribution(
    at: &At,
    p: &str,
    mean_field: &str,
    mean: Dur,
    kind: DistributionKind,
    shape: Option<f64>,
    kind_field: &str,
    shape_field: &str,
) -> Result<Distribution, ScenarioError> {
    if mean.ns() == 0 {
        return Err(at.err(
            &format!("{p}.{mean_field}"),
            format!("{mean_field} must be more than 0 (a duration such as \"2000h\")"),
        ));
    }
    let mean_h = mean.ns() as f64 / 3.6e12;
    match (kind, shape) {
        (DistributionKind::Weibull, None) => Err(at.err(
            &format!("{p}.{kind_field}"),
            format!("a weibull {kind_field} needs `{shape_field}`: the Weibull shape k, e.g. 1.5 (k < 1 early failures, k > 1 wear-out)"),
        )),
        (DistributionKind::Weibull, Some(k)) if !(k.is_finite() && (0.1..=20.0).contains(&k)) => Err(at.err(
            &format!("{p}.{shape_field}"),
            format!("{k} is out of range; allowed: a Weibull shape from 0.1 to 20"),
        )),
        (DistributionKind::Weibull, Some(shape)) => Ok(Distribution::Weibull { mean_h, shape }),
        (DistributionKind::Exponential | DistributionKind::Deterministic, Some(_)) => Err(at.err(
            &format!("{p}.{shape_field}"),
            format!("`{shape_field}` belongs to a weibull {kind_field} only; remove it or set \"{kind_field}\": \"weibull\""),
        )),
        (DistributionKind::Exponential, None) => Ok(Distribution::Exponential { mean_h }),
        (DistributionKind::Deterministic, None) => Ok(Distribution::Deterministic { mean_h }),
    }
}

fn crews(raw: &PlanFile, at: &At) -> Result<Crews, ScenarioError> {
    crews_of(raw.repair.crews.as_ref(), "repair.crews", at)
}

/// `crews` at `path`: absent or "per-node", or a whole number of shared crews.
fn crews_of(v: Option<&Value>, path: &str, at: &At) -> Result<Crews, ScenarioError> {
    let bad = || {
        at.err(path, "expected \"per-node\" (every failed node repaired at once) or a whole number of shared crews from 1 to 1000".into())
    };
    match v {
        None => Ok(Crews::PerNode),
        Some(Value::String(s)) if s == "per-node" => Ok(Crews::PerNode),
        Some(Value::String(s)) => Err(at.err(
            path,
            format!("unknown value `{s}`{}; allowed: per-node, or a whole number of shared crews (e.g. 1)", suggest(s, ["per-node"])),
        )),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(k) if (1..=1000).contains(&k) => Ok(Crews::Shared(k as u32)),
            _ => Err(bad()),
        },
        Some(_) => Err(bad()),
    }
}

/// A design's own `repair` (`{"crews": ...}`), or the plan's.
fn design_crews(
    o: &Map<String, Value>,
    p: &str,
    at: &At,
    plan: Crews,
) -> Result<Crews, ScenarioError> {
    match o.get("repair") {
        None => Ok(plan),
        Some(Value::Object(r)) => {
            if let Some(k) = r.keys().find(|k| *k != "crews") {
                return Err(at.err(
                    &format!("{p}.repair.{k}"),
                    format!("unknown field `{k}`; allowed fields in `repair`: crews"),
                ));
            }
            crews_of(r.get("crews"), &format!("{p}.repair.crews"), at)
        }
        Some(_) => Err(at.err(
            &format!("{p}.repair"),
            "expected an object ({\"crews\": \"per-node\" or a number})".into(),
        )),
    }
}

/// The base as a scenario object (a file given by path is read and checked on its own first).
fn base_object(raw: &PlanFile, at: &At, dir: &Path) -> Result<BaseSource, ScenarioError> {
    match &raw.base {
        Value::Object(o) => {
            for key in ["faults", "expect"] {
                if o.contains_key(key) {
                    return Err(at.err(&format!("base.{key}"), format!(
                        "a plan's base takes no `{key}`: the failures come from `failures` and the bounds from the plan's `expect` (with a `design`)"
                    )));
                }
            }
            Ok(BaseSource::Inline(o.clone()))
        }
        Value::String(p) => {
            let path = dir.join(p);
            let label = path.display().to_string();
            let text = read_text(&path, &label, "base scenario").map_err(|e| ScenarioError {
                message: format!("{} (from `base`: {p})", e.message),
                ..at.err("base", String::new())
            })?;
            // The file must be a valid scenario on its own; its errors name it.
            parse_scenario(&text, &label)?;
            let Ok(Value::Object(mut o)) = serde_json::from_str::<Value>(&text) else {
                return Err(at.err("base", format!("{label} is not a JSON object")));
            };
            // Its fault script and expectations are not used: the failure processes replace them.
            o.remove("faults");
            o.remove("expect");
            Ok(BaseSource::File { label, object: o })
        }
        _ => Err(at.err("base", format!(
            "expected a scenario object ({{\"duration\": ..., \"topology\": {{...}}}}) or the path of a scenario file, found {}",
            at.spans.found("base")
        ))),
    }
}

/// Where the base came from, for errors.
enum BaseSource {
    Inline(Map<String, Value>),
    File {
        label: String,
        object: Map<String, Value>,
    },
}

impl BaseSource {
    fn object(&self) -> &Map<String, Value> {
        match self {
            BaseSource::Inline(o) | BaseSource::File { object: o, .. } => o,
        }
    }
}

/// The fields a design may set: scenario fields overlaid on the base, and its own `repair`.
const OVERLAY_FIELDS: [&str; 6] = [
    "description",
    "topology",
    "settings",
    "load",
    "workloads",
    "repair",
];

fn designs(
    raw: &PlanFile,
    at: &At,
    base: &BaseSource,
    crews: Crews,
) -> Result<Vec<Design>, ScenarioError> {
    let base_plan = scenario_of(at, base, &Map::new(), &raw.name, None)?;
    check_zones(at, "base.topology.zones", &base_plan)?;
    if raw.designs.is_empty() {
        return Ok(vec![Design {
            name: raw.name.clone(),
            scenario: base_plan,
            crews,
        }]);
    }
    let mut out: Vec<Design> = Vec::new();
    for (i, d) in raw.designs.iter().enumerate() {
        let p = format!("designs[{i}]");
        let Value::Object(o) = d else {
            return Err(at.err(
                &p,
                format!(
                    "expected an object ({{\"name\": ..., \"topology\": {{...}}}}), found {}",
                    at.spans.found(&p)
                ),
            ));
        };
        let name = match o.get("name") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(at.err(&format!("{p}.name"), "expected a string".into())),
            None => {
                return Err(at.err(
                    &p,
                    "missing required field `name`; every design needs a `name`".into(),
                ))
            }
        };
        if let Some(j) = out.iter().position(|x| x.name == name) {
            return Err(at.err(
                &format!("{p}.name"),
                format!("design `{name}` is already designs[{j}]; design names must be unique"),
            ));
        }
        let mut overlay = o.clone();
        overlay.remove("name");
        let crews = design_crews(o, &p, at, crews)?;
        overlay.remove("repair");
        if let Some(k) = overlay
            .keys()
            .find(|k| !OVERLAY_FIELDS.contains(&k.as_str()))
        {
            return Err(error_at(
                at.file,
                format!("{p}.{k}"),
                at.spans.key(&format!("{p}.{k}")),
                format!(
                    "a design cannot set `{k}`{}; a design sets: {}",
                    suggest(k, OVERLAY_FIELDS),
                    OVERLAY_FIELDS.join(", ")
                ),
            ));
        }
        let scenario = scenario_of(at, base, &overlay, &name, Some(i))?;
        check_zones(at, &format!("{p}.topology.zones"), &scenario)?;
        out.push(Design {
            name,
            scenario,
            crews,
        });
    }
    Ok(out)
}

/// Failure modes keep the down zones as bits of a 64-bit word.
fn check_zones(at: &At, path: &str, s: &Plan) -> Result<(), ScenarioError> {
    if s.layout.zones.len() > 64 {
        return Err(at.err(
            path,
            format!(
                "{} zones is too many for a plan; at most 64",
                s.layout.zones.len()
            ),
        ));
    }
    Ok(())
}

/// JSON Merge Patch (RFC 7396): objects merge key by key, `null` removes a key, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// The base with an overlay, validated as a scenario named `name`. Errors point at the overlay's
/// field when it set it, else at the base (inline) or at the design (a base file with the overlay).
fn scenario_of(
    at: &At,
    base: &BaseSource,
    overlay: &Map<String, Value>,
    name: &str,
    design: Option<usize>,
) -> Result<Plan, ScenarioError> {
    let mut v = Value::Object(base.object().clone());
    merge_patch(&mut v, &Value::Object(overlay.clone()));
    if let Value::Object(o) = &mut v {
        o.insert("name".into(), Value::String(name.to_string()));
        // The detailed runs set their own length; a base without one gets a placeholder.
        o.entry("duration").or_insert(Value::String("1h".into()));
    }
    let text = serde_json::to_string_pretty(&v).unwrap_or_default();
    parse_scenario(&text, at.file).map_err(|e| {
        let top = e.path.split(['.', '[']).next().unwrap_or("");
        let message = e.message.clone();
        match (design, base) {
            (Some(i), _) if top == "name" => at.err(&format!("designs[{i}].name"), message),
            (Some(i), _) if overlay.contains_key(top) => at.err(&format!("designs[{i}].{}", e.path), message),
            (Some(i), _) => at.err(&format!("designs[{i}]"), format!(
                "the base with this design's overlay is not a valid scenario: field `{}`: {message}", e.path
            )),
            (None, BaseSource::Inline(_)) if top == "name" => at.err("name", message),
            (None, BaseSource::Inline(_)) => at.err(&format!("base.{}", e.path), message),
            (None, BaseSource::File { label, .. }) => at.err("base", format!("{label}: field `{}`: {message}", e.path)),
        }
    })
}

fn expectations(
    raw: &PlanFile,
    at: &At,
    designs: &[Design],
) -> Result<Vec<DesignExpectation>, ScenarioError> {
    let known = known_metrics();
    let mut out = Vec::new();
    for (i, e) in raw.expect.iter().enumerate() {
        let p = format!("expect[{i}]");
        if !designs.iter().any(|d| d.name == e.design) {
            let names: Vec<&str> = designs.iter().map(|d| d.name.as_str()).collect();
            return Err(at.err(
                &format!("{p}.design"),
                format!(
                    "there is no design `{}`{}; designs: {}",
                    e.design,
                    suggest(&e.design, names.iter().copied()),
                    names.join(", ")
                ),
            ));
        }
        if !known.contains(&e.metric) {
            return Err(at.err(&format!("{p}.metric"), format!(
                "unknown metric `{}`{}; known: C.{} for each capability C ({}), and etcd_quorum.mttf_h",
                e.metric,
                suggest(&e.metric, known.iter().map(String::as_str)),
                CAPABILITY_METRICS.join(", C."),
                Capability::ALL.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
            )));
        }
        let given: Vec<(&str, f64)> = [
            ("at_least", e.at_least),
            ("at_most", e.at_most),
            ("equals", e.equals),
        ]
        .into_iter()
        .filter_map(|(n, v)| v.map(|v| (n, v)))
        .collect();
        let bound = match given.as_slice() {
            [("at_least", v)] => Bound::AtLeast(*v),
            [("at_most", v)] => Bound::AtMost(*v),
            [(_, v)] => Bound::Equals(*v),
            [] => return Err(at.err(&p, format!("expectation on `{}` has no bound; give exactly one of `at_least`, `at_most`, `equals`", e.metric))),
            [_, (second, _), ..] => return Err(at.err(&format!("{p}.{second}"), "an expectation takes exactly one of `at_least`, `at_most`, `equals`; write a second expectation for the other bound".into())),
        };
        out.push(DesignExpectation {
            design: e.design.clone(),
            metric: e.metric.clone(),
            bound,
        });
    }
    Ok(out)
}
