//! Loading a scenario file: JSON parsing that reports the field path, line and column of every error, then
//! the semantic checks serde cannot express (sizes, cross-field rules, fault targets, metric names).
//!
//! Every error says what is wrong and what is allowed. Nothing in here panics on any input.

use crate::engine::{fmt_duration, Nanos, HOUR, SEC};
use crate::scenario::model::{Dur, EtcdTopology, Fault, FaultKind, Scenario};
use crate::topology::{Layout, NodeKind, ProcKind, SELECTORS};
use serde_path_to_error::Segment;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

/// The longest run a scenario may ask for (7 days).
pub const MAX_DURATION: Nanos = 7 * 24 * HOUR;
/// Most control-plane nodes a topology may have.
pub const MAX_CONTROL_PLANE_NODES: u32 = 50;
/// Most dedicated etcd nodes a topology may have.
pub const MAX_ETCD_NODES: u32 = 9;
/// Most load balancers a topology may have.
pub const MAX_LOAD_BALANCERS: u32 = 16;
/// Most worker nodes a topology may have.
pub const MAX_WORKERS: u32 = 5000;
/// Most replicas one workload may ask for.
pub const MAX_REPLICAS: u32 = 100_000;
/// Highest client request rate.
pub const MAX_REQUESTS_PER_SECOND: f64 = 100_000.0;
/// etcd's upper limit on `--election-timeout` (50000 ms).
pub const MAX_ELECTION_TIMEOUT: Nanos = 50 * SEC;
/// Most faults one scenario may script.
pub const MAX_FAULTS: usize = 10_000;

/// The capabilities whose availability is measured (CONTRACT.md, "Metrics").
pub const CAPABILITIES: [&str; 5] = [
    "api",
    "etcd_quorum",
    "scheduling",
    "reconciliation",
    "workloads",
];

/// The metrics measured for every capability, as `CAPABILITY.SUFFIX`.
pub const CAPABILITY_METRICS: [&str; 5] = [
    "availability",
    "downtime_s",
    "longest_outage_s",
    "outages",
    "recovery_s",
];

/// The metrics that are not per capability.
pub const OTHER_METRICS: [&str; 14] = [
    "api.requests",
    "api.failed_requests",
    "api.latency_p50_ms",
    "api.latency_p99_ms",
    "etcd.leader_changes",
    "etcd.elections",
    "scheduler.leader_changes",
    "controller_manager.leader_changes",
    "scheduling.split_brain_s",
    "reconciliation.split_brain_s",
    "workloads.ready_ratio",
    "data.acknowledged_writes_lost",
    "invariants.violations",
    "warmup_s",
];

/// A scenario file that cannot be used: where the problem is and what would be accepted instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file as the user named it ("" when parsing text that has no file).
    pub file: String,
    /// The field path, e.g. `faults[2].target` or `topology.etcd_nodes`; "" for the whole file.
    pub path: String,
    /// 1-based line of the offending value, when known.
    pub line: Option<usize>,
    /// 1-based column (in characters) of the offending value, when known.
    pub column: Option<usize>,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    /// `FILE:LINE:COL: field `PATH`: MESSAGE`, leaving out the parts that are unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut location = self.file.clone();
        if let Some(line) = self.line {
            if location.is_empty() {
                location = format!("line {line}");
                if let Some(col) = self.column {
                    location.push_str(&format!(", column {col}"));
                }
            } else {
                location.push_str(&format!(":{line}"));
                if let Some(col) = self.column {
                    location.push_str(&format!(":{col}"));
                }
            }
        }
        if !location.is_empty() {
            write!(f, "{location}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "field `{}`: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Reads and checks a scenario file. An unreadable file is an error naming it.
pub fn load_scenario(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::InvalidData {
            "it is not UTF-8 text".to_string()
        } else {
            e.to_string()
        };
        ScenarioError {
            file: file.clone(),
            path: String::new(),
            line: None,
            column: None,
            message: format!("cannot read the scenario file: {why}"),
        }
    })?;
    parse_scenario(&text, &file)
}

/// Parses scenario text (JSON) and checks it. `file` only labels errors.
pub fn parse_scenario(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
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
    .run()?;
    Ok(scenario)
}

/// Every metric name an expectation of this scenario may use: the per-capability metrics, the others of
/// CONTRACT.md, and `workload.NAME.ready_ratio` for each declared workload.
pub fn known_metrics(s: &Scenario) -> Vec<String> {
    let mut out = Vec::new();
    for c in CAPABILITIES {
        for m in CAPABILITY_METRICS {
            out.push(format!("{c}.{m}"));
        }
    }
    out.extend(OTHER_METRICS.iter().map(|m| m.to_string()));
    out.extend(
        s.workloads
            .iter()
            .map(|w| format!("workload.{}.ready_ratio", w.name)),
    );
    out
}

// ---------------------------------------------------------------------------------------------------------
// serde errors

fn path_string(path: &serde_path_to_error::Path) -> String {
    let mut s = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => s.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    s
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The message of a serde_json error without its " at line L column C" suffix.
fn bare_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_string()
}

/// serde_json's (line, byte column) as (line, character column); `None` when unknown.
fn char_position(text: &str, line: usize, byte_col: usize) -> Option<(usize, usize)> {
    if line == 0 {
        return None;
    }
    let Some(line_text) = text.split('\n').nth(line - 1) else {
        return Some((line, byte_col.max(1)));
    };
    let mut cut = byte_col.min(line_text.len());
    while cut > 0 && !line_text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut col = line_text.get(..cut).map_or(0, |p| p.chars().count());
    if cut < byte_col.min(line_text.len()) {
        col += 1;
    }
    Some((line, col.max(1)))
}

fn error_at(
    file: &str,
    path: String,
    pos: Option<(usize, usize)>,
    message: String,
) -> ScenarioError {
    ScenarioError {
        file: file.to_string(),
        path,
        line: pos.map(|p| p.0),
        column: pos.map(|p| p.1),
        message,
    }
}

fn syntax_error(text: &str, file: &str, e: &serde_json::Error) -> ScenarioError {
    let raw = bare_message(e);
    let pos = char_position(text, e.line(), e.column());
    let message = if text.trim().is_empty() {
        "the file is empty; a scenario is a JSON object with at least `name`, `duration` and `topology`"
            .to_string()
    } else {
        let hint = match raw.as_str() {
            "trailing comma" => " (JSON allows no comma after the last item of an object or list)",
            "key must be a string" => " (object keys need double quotes: \"name\")",
            "expected value" => {
                " (strings need double quotes, e.g. \"10s\"; JSON has no comments or single quotes)"
            }
            "trailing characters" => " (there is text after the end of the scenario object)",
            _ => "",
        };
        match e.classify() {
            serde_json::error::Category::Eof => {
                format!("malformed JSON: the file ends too early ({raw}); check for a missing `}}`, `]` or `\"`")
            }
            _ => format!("malformed JSON: {raw}{hint}"),
        }
    };
    error_at(file, String::new(), pos, message)
}

fn serde_error(
    text: &str,
    file: &str,
    spans: &Spans,
    e: serde_path_to_error::Error<serde_json::Error>,
) -> ScenarioError {
    let path = path_string(e.path());
    let inner = e.into_inner();
    match inner.classify() {
        serde_json::error::Category::Data => data_error(text, file, spans, path, &inner),
        _ if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() => {
            // Well-formed JSON: serde_json reports a non-string enum value as "expected value".
            let expected = humanize_expected("a string", &path);
            let pos = spans
                .value(&path)
                .or_else(|| char_position(text, inner.line(), inner.column()));
            let found = spans.found(&path);
            error_at(
                file,
                path,
                pos,
                format!("expected {expected}, found {found}"),
            )
        }
        _ => syntax_error(text, file, &inner),
    }
}

/// The names between backticks in a serde message ("expected one of `a`, `b`").
fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, x)| x.to_string())
        .collect()
}

/// Paths (without indices) whose values are objects in the model.
const OBJECT_SHAPES: [&str; 11] = [
    "",
    "topology",
    "settings",
    "settings.etcd",
    "settings.kube_apiserver",
    "settings.leader_election",
    "settings.load_balancer",
    "settings.kubelet",
    "settings.node_lifecycle",
    "settings.network",
    "load",
];

/// serde accepts a list where a struct is expected (fields by position); a scenario must use objects.
fn check_objects(spans: &Spans, file: &str) -> Result<(), ScenarioError> {
    let mut lists: Vec<&String> = spans
        .starts
        .iter()
        .filter(|(_, c)| **c == '[')
        .map(|(p, _)| p)
        .filter(|p| {
            let sh = shape(p);
            let element = p.ends_with(']');
            (element && matches!(sh.as_str(), "workloads" | "faults" | "expect"))
                || (!element && OBJECT_SHAPES.contains(&sh.as_str()))
        })
        .collect();
    lists.sort_by_key(|p| spans.values.get(*p));
    match lists.first() {
        None => Ok(()),
        Some(p) => {
            let what = if p.is_empty() {
                "a scenario file is a JSON object ({ \"name\": ..., \"duration\": ..., \"topology\": {...} })"
                    .to_string()
            } else {
                "expected an object ({...}) with named fields".to_string()
            };
            Err(error_at(
                file,
                p.to_string(),
                spans.values.get(*p).copied(),
                format!("{what}, found a list"),
            ))
        }
    }
}

/// The first backticked name of a message that starts with `prefix`, and the rest after it.
fn take_named<'a>(raw: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    let rest = raw.strip_prefix(prefix)?;
    let end = rest.find('`')?;
    Some((&rest[..end], &rest[end + 1..]))
}

/// The path without list indices: `faults[2].kind` → `faults.kind`.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            _ if !in_index => out.push(c),
            _ => {}
        }
    }
    out
}

const FAULT_KINDS: [&str; 9] = [
    "crash",
    "stop",
    "restart",
    "partition",
    "isolate",
    "degrade-link",
    "slow-disk",
    "wipe-data",
    "restore",
];

/// The allowed values of an enum-valued field, by path.
fn enum_values(path: &str) -> Option<&'static [&'static str]> {
    match shape(path).as_str() {
        "topology.etcd" => Some(&["stacked", "external"]),
        "settings.leader_election.api_endpoint" => Some(&["local", "load-balancer"]),
        "load.target" => Some(&["api", "etcd"]),
        "workloads.spread" => Some(&["none", "zones", "first-zone"]),
        "faults.kind" => Some(&FAULT_KINDS),
        _ => None,
    }
}

fn humanize_expected(expected: &str, path: &str) -> String {
    if let Some(values) = enum_values(path) {
        return format!("one of {}", values.join(", "));
    }
    match expected {
        "u32" => "a whole number from 0 to 4294967295".into(),
        "u64" => "a whole number from 0 to 18446744073709551615".into(),
        "i32" | "i64" => "a whole number".into(),
        "f64" | "f32" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a sequence" => "a list ([...])".into(),
        e if e.starts_with("struct ") && path.is_empty() => {
            "a JSON object ({ \"name\": ..., \"duration\": ..., \"topology\": {...} })".into()
        }
        e if e.starts_with("struct ") => "an object ({...})".into(),
        e => e.to_string(),
    }
}

fn missing_hint(parent: &str) -> &'static str {
    match shape(parent).as_str() {
        "" => "; a scenario needs at least `name`, `duration` and `topology`",
        "topology" => "; a topology needs at least `etcd` and `control_plane_nodes`",
        "faults" => "; every fault needs `at` and `kind`",
        "workloads" => "; every workload needs `name` and `replicas`",
        "expect" => "; every expectation needs `metric` and one of `at_least`, `at_most`, `equals`",
        _ => "",
    }
}

fn data_error(
    text: &str,
    file: &str,
    spans: &Spans,
    path: String,
    e: &serde_json::Error,
) -> ScenarioError {
    let raw = bare_message(e);
    let serde_pos = char_position(text, e.line(), e.column());
    let value_pos = |p: &str| spans.value(p).or(serde_pos);

    if let Some((name, rest)) = take_named(&raw, "unknown field `") {
        let allowed = backticked(rest);
        // serde_path_to_error stops at the object holding the unknown key; name the key itself.
        let full = if path == name || path.ends_with(&format!(".{name}")) {
            path.clone()
        } else {
            join(&path, name)
        };
        let parent = parent_path(&full).unwrap_or("");
        let suggestion = suggest(name, allowed.iter().map(String::as_str));
        let place = if parent.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in `{parent}`")
        };
        let list = if allowed.is_empty() {
            "none".to_string()
        } else {
            allowed.join(", ")
        };
        let pos = spans.key(&full).or(serde_pos);
        return error_at(
            file,
            full,
            pos,
            format!("unknown field `{name}`{suggestion}; allowed fields {place}: {list}"),
        );
    }
    if let Some((value, rest)) = take_named(&raw, "unknown variant `") {
        let allowed = match enum_values(&path) {
            Some(v) => v.iter().map(|s| s.to_string()).collect(),
            None => backticked(rest),
        };
        let suggestion = suggest(value, allowed.iter().map(String::as_str));
        let what = if shape(&path) == "faults.kind" {
            "fault kind"
        } else {
            "value"
        };
        return error_at(
            file,
            path.clone(),
            value_pos(&path),
            format!(
                "unknown {what} `{value}`{suggestion}; allowed: {}",
                allowed.join(", ")
            ),
        );
    }
    if let Some((name, _)) = take_named(&raw, "missing field `") {
        let full = join(&path, name);
        return error_at(
            file,
            full,
            value_pos(&path),
            format!("missing required field `{name}`{}", missing_hint(&path)),
        );
    }
    if let Some((name, _)) = take_named(&raw, "duplicate field `") {
        let full = if path.ends_with(name) {
            path.clone()
        } else {
            join(&path, name)
        };
        let pos = spans.key(&full).or(serde_pos);
        return error_at(
            file,
            full,
            pos,
            format!("field `{name}` is given twice; give it once"),
        );
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = raw.strip_prefix(prefix) {
            if let Some(i) = rest.rfind(", expected ") {
                let found = &rest[..i];
                let expected = &rest[i + ", expected ".len()..];
                return error_at(
                    file,
                    path.clone(),
                    value_pos(&path),
                    format!(
                        "expected {}, found {found}",
                        humanize_expected(expected, &path)
                    ),
                );
            }
        }
    }
    // Custom messages (durations) already say what is allowed.
    error_at(file, path.clone(), value_pos(&path), raw)
}

// ---------------------------------------------------------------------------------------------------------
// Suggestions

/// Edit distance counting insertions, deletions, substitutions and swaps of neighbours as one edit each
/// (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j - 1] + cost)
                .min(d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

/// The candidate nearest to `input`, if any is near enough to be a plausible typo.
fn nearest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    if input.is_empty() || input.chars().count() > 64 {
        return None;
    }
    let lower = input.to_lowercase();
    let limit = (input.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let cl = c.to_lowercase();
        let d = if cl == lower {
            0
        } else {
            let d = edit_distance(&lower, &cl);
            let contains =
                lower.chars().count() >= 3 && (cl.starts_with(&lower) || lower.starts_with(&cl));
            if d <= limit {
                d
            } else if contains {
                limit + 1
            } else {
                continue;
            }
        };
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// " (did you mean `x`?)" or "".
fn suggest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match nearest(input, candidates) {
        Some(c) if c != input => format!(" (did you mean `{c}`?)"),
        _ => String::new(),
    }
}

/// A readable, bounded list of names: all of them when few, else the first two and the last.
fn list_names(names: &[String]) -> String {
    if names.len() <= 4 {
        names.join(", ")
    } else {
        format!(
            "{}, {}, ..., {}",
            names[0],
            names[1],
            names[names.len() - 1]
        )
    }
}

// ---------------------------------------------------------------------------------------------------------
// Source positions of values

/// Where each value (and each object key) of the file starts, by field path.
#[derive(Default)]
struct Spans {
    values: HashMap<String, (usize, usize)>,
    /// The first character of each value: `{`, `[`, `"`, a digit, `-`, `t`, `f` or `n`.
    starts: HashMap<String, char>,
    keys: HashMap<String, (usize, usize)>,
}

fn parent_path(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    Some(path.rfind(['.', '[']).map_or("", |i| &path[..i]))
}

impl Spans {
    /// Indexes the text; stops quietly at anything that is not well-formed JSON.
    fn index(text: &str) -> Spans {
        let mut sc = Scanner {
            chars: text.chars().collect(),
            i: 0,
            line: 1,
            col: 1,
            spans: Spans::default(),
        };
        sc.skip_ws();
        let _ = sc.value(String::new(), 0);
        sc.spans
    }

    /// The position of the value at `path`, or of its nearest enclosing value that is in the file.
    fn value(&self, path: &str) -> Option<(usize, usize)> {
        let mut p = path;
        loop {
            if let Some(&pos) = self.values.get(p) {
                return Some(pos);
            }
            p = parent_path(p)?;
        }
    }

    /// The position of the key of the field at `path` (falling back to `value`).
    fn key(&self, path: &str) -> Option<(usize, usize)> {
        self.keys.get(path).copied().or_else(|| self.value(path))
    }

    fn has(&self, path: &str) -> bool {
        self.values.contains_key(path)
    }

    /// What kind of JSON value is at `path`, in words.
    fn found(&self, path: &str) -> &'static str {
        match self.starts.get(path) {
            Some('{') => "an object",
            Some('[') => "a list",
            Some('"') => "a string",
            Some('t' | 'f') => "a boolean",
            Some('n') => "null",
            Some(_) => "a number",
            None => "something else",
        }
    }
}

const MAX_DEPTH: usize = 256;

struct Scanner {
    chars: Vec<char>,
    i: usize,
    line: usize,
    col: usize,
    spans: Spans,
}

impl Scanner {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.bump();
        }
    }

    fn value(&mut self, path: String, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.spans
            .values
            .insert(path.clone(), (self.line, self.col));
        let first = self.peek()?;
        self.spans.starts.insert(path.clone(), first);
        match first {
            '{' => {
                self.bump();
                self.skip_ws();
                if self.peek()? == '}' {
                    self.bump();
                    return Some(());
                }
                loop {
                    self.skip_ws();
                    let key_pos = (self.line, self.col);
                    if self.peek()? != '"' {
                        return None;
                    }
                    let key = self.string()?;
                    let child = join(&path, &key);
                    self.spans.keys.insert(child.clone(), key_pos);
                    self.skip_ws();
                    if self.bump()? != ':' {
                        return None;
                    }
                    self.skip_ws();
                    self.value(child, depth + 1)?;
                    self.skip_ws();
                    match self.bump()? {
                        ',' => {}
                        '}' => return Some(()),
                        _ => return None,
                    }
                }
            }
            '[' => {
                self.bump();
                self.skip_ws();
                if self.peek()? == ']' {
                    self.bump();
                    return Some(());
                }
                let mut index = 0usize;
                loop {
                    self.skip_ws();
                    self.value(format!("{path}[{index}]"), depth + 1)?;
                    index += 1;
                    self.skip_ws();
                    match self.bump()? {
                        ',' => {}
                        ']' => return Some(()),
                        _ => return None,
                    }
                }
            }
            '"' => self.string().map(|_| ()),
            _ => {
                let start = self.i;
                while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                {
                    self.bump();
                }
                (self.i > start).then_some(())
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            v = v * 16 + self.bump()?.to_digit(16)?;
        }
        Some(v)
    }

    /// A string literal, decoded (the scanner is at its opening quote).
    fn string(&mut self) -> Option<String> {
        self.bump()?;
        let mut out = String::new();
        loop {
            match self.bump()? {
                '"' => return Some(out),
                '\\' => {
                    let c = match self.bump()? {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi)
                                && self.peek() == Some('\\')
                                && self.chars.get(self.i + 1) == Some(&'u')
                            {
                                self.bump();
                                self.bump();
                                let lo = self.hex4()?;
                                0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
                            } else {
                                hi
                            };
                            char::from_u32(code).unwrap_or('\u{fffd}')
                        }
                        other => other,
                    };
                    out.push(c);
                }
                c => out.push(c),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Semantic validation

/// What a fault target names, as far as can be known before the run.
#[derive(Clone, Copy)]
enum Target {
    Node(usize),
    Proc(usize),
    Zone(usize),
    Selector(&'static str),
}

struct Validator<'a> {
    file: &'a str,
    spans: &'a Spans,
    s: &'a Scenario,
}

type Check = Result<(), ScenarioError>;

fn human_kind(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::ControlPlane => "control-plane nodes",
        NodeKind::Etcd => "etcd nodes",
        NodeKind::LoadBalancer => "load balancers",
        NodeKind::Worker => "workers",
        NodeKind::Client => "client nodes",
    }
}

fn in_unit(x: f64) -> bool {
    (0.0..=1.0).contains(&x)
}

impl Validator<'_> {
    fn err(&self, path: &str, message: impl Into<String>) -> ScenarioError {
        error_at(
            self.file,
            path.to_string(),
            self.spans.value(path),
            message.into(),
        )
    }

    /// The first of `paths` that the file spells out (so the error points at what the user wrote).
    fn pick<'p>(&self, paths: &[&'p str]) -> &'p str {
        paths
            .iter()
            .copied()
            .find(|p| self.spans.has(p))
            .unwrap_or(paths[0])
    }

    fn positive(&self, path: &str, d: Dur) -> Check {
        if d.ns() == 0 {
            return Err(self.err(path, "must be more than 0 (a duration such as \"1s\")"));
        }
        Ok(())
    }

    fn at_least_one(&self, path: &str, v: u32) -> Check {
        if v == 0 {
            return Err(self.err(path, "must be at least 1"));
        }
        Ok(())
    }

    fn run(&self) -> Check {
        self.top()?;
        self.topology()?;
        let layout = Layout::new(&self.s.topology);
        self.settings(&layout)?;
        self.load()?;
        self.workloads()?;
        self.faults(&layout)?;
        self.expectations()
    }

    fn top(&self) -> Check {
        if self.s.name.trim().is_empty() {
            return Err(self.err(
                "name",
                "must not be empty; name the scenario, e.g. \"stacked-etcd-leader-crash\"",
            ));
        }
        let d = self.s.duration.ns();
        if d == 0 || d > MAX_DURATION {
            return Err(self.err(
                "duration",
                format!(
                    "{} is not a usable run length; the duration must be more than 0 and at most 168h (7 days)",
                    fmt_duration(d)
                ),
            ));
        }
        Ok(())
    }

    fn topology(&self) -> Check {
        let t = &self.s.topology;
        if t.etcd == EtcdTopology::Stacked && t.etcd_nodes > 0 {
            return Err(self.err(
                "topology.etcd_nodes",
                format!(
                    "etcd_nodes is only for external etcd; with \"etcd\": \"stacked\" every control-plane node \
                     runs an etcd member (got {}; remove the field or set \"etcd\": \"external\")",
                    t.etcd_nodes
                ),
            ));
        }
        let limits = [
            (
                "topology.control_plane_nodes",
                t.control_plane_nodes,
                MAX_CONTROL_PLANE_NODES,
                "control-plane nodes",
            ),
            (
                "topology.etcd_nodes",
                t.etcd_nodes,
                MAX_ETCD_NODES,
                "etcd nodes (etcd suggests no more than 7 members)",
            ),
            (
                "topology.load_balancers",
                t.load_balancers,
                MAX_LOAD_BALANCERS,
                "load balancers",
            ),
            ("topology.workers", t.workers, MAX_WORKERS, "workers"),
        ];
        for (path, v, max, what) in limits {
            if v > max {
                return Err(self.err(path, format!("{v} is too many; allowed: 0 to {max} {what}")));
            }
        }
        if t.zones.is_empty() {
            return Err(self.err(
                "topology.zones",
                "must list at least one zone, e.g. [\"a\", \"b\", \"c\"]",
            ));
        }
        let mut seen = HashSet::new();
        for (i, z) in t.zones.iter().enumerate() {
            let path = format!("topology.zones[{i}]");
            if z.trim().is_empty() {
                return Err(self.err(&path, "zone names must not be empty"));
            }
            if !seen.insert(z.as_str()) {
                return Err(self.err(
                    &path,
                    format!("zone `{z}` is listed twice; zone names must be unique"),
                ));
            }
        }
        let cps: Vec<String> = (1..=t.control_plane_nodes)
            .map(|i| format!("cp-{i}"))
            .collect();
        let cp_list = if cps.is_empty() {
            "none: there are no control-plane nodes".to_string()
        } else {
            list_names(&cps)
        };
        if t.endpoint == "load-balancer" {
            if t.load_balancers == 0 {
                return Err(self.err(
                    self.pick(&["topology.load_balancers", "topology.endpoint"]),
                    "\"endpoint\": \"load-balancer\" needs at least 1 load balancer; set load_balancers to 1 or \
                     more, or use \"direct:NODE\" with a control-plane node",
                ));
            }
        } else if let Some(node) = t.endpoint.strip_prefix("direct:") {
            if !cps.iter().any(|c| c == node) {
                return Err(self.err(
                    "topology.endpoint",
                    format!(
                        "`{node}` is not a control-plane node{}; direct endpoints name one of: {cp_list}",
                        suggest(node, cps.iter().map(String::as_str))
                    ),
                ));
            }
        } else {
            return Err(self.err(
                "topology.endpoint",
                format!(
                    "unknown endpoint `{}`{}; allowed: \"load-balancer\" or \"direct:NODE\" with NODE a \
                     control-plane node ({cp_list})",
                    t.endpoint,
                    suggest(&t.endpoint, ["load-balancer"])
                ),
            ));
        }
        Ok(())
    }

    fn settings(&self, layout: &Layout) -> Check {
        let st = &self.s.settings;

        let e = &st.etcd;
        let hb = e.heartbeat_interval.ns();
        let el = e.election_timeout.ns();
        self.positive("settings.etcd.heartbeat_interval", e.heartbeat_interval)?;
        if u128::from(el) < 5 * u128::from(hb) {
            return Err(self.err(
                self.pick(&["settings.etcd.election_timeout", "settings.etcd.heartbeat_interval"]),
                format!(
                    "election_timeout ({}) must be at least 5 x heartbeat_interval ({}) = {}, as etcd requires",
                    fmt_duration(el),
                    fmt_duration(hb),
                    fmt_duration(hb.saturating_mul(5))
                ),
            ));
        }
        if el > MAX_ELECTION_TIMEOUT {
            return Err(self.err(
                "settings.etcd.election_timeout",
                format!(
                    "{} is above etcd's maximum election timeout of 50s",
                    fmt_duration(el)
                ),
            ));
        }
        if let Some(rt) = e.request_timeout {
            self.positive("settings.etcd.request_timeout", rt)?;
        }

        let a = &st.kube_apiserver;
        for (field, d) in [
            ("request_timeout", a.request_timeout),
            ("etcd_healthcheck_timeout", a.etcd_healthcheck_timeout),
            ("etcd_readycheck_timeout", a.etcd_readycheck_timeout),
            ("etcd_dial_timeout", a.etcd_dial_timeout),
            ("etcd_keepalive_time", a.etcd_keepalive_time),
            ("etcd_keepalive_timeout", a.etcd_keepalive_timeout),
        ] {
            self.positive(&format!("settings.kube_apiserver.{field}"), d)?;
        }

        let le = &st.leader_election;
        let (lease, renew, retry) = (
            le.lease_duration.ns(),
            le.renew_deadline.ns(),
            le.retry_period.ns(),
        );
        self.positive("settings.leader_election.retry_period", le.retry_period)?;
        // client-go: renewDeadline must be greater than retryPeriod * JitterFactor (1.2).
        if u128::from(renew) * 10 <= u128::from(retry) * 12 {
            return Err(self.err(
                self.pick(&[
                    "settings.leader_election.renew_deadline",
                    "settings.leader_election.retry_period",
                ]),
                format!(
                    "renew_deadline ({}) must be greater than 1.2 x retry_period ({}), as client-go's leader \
                     election requires (lease_duration > renew_deadline > 1.2 x retry_period)",
                    fmt_duration(renew),
                    fmt_duration(retry)
                ),
            ));
        }
        if lease <= renew {
            return Err(self.err(
                self.pick(&[
                    "settings.leader_election.lease_duration",
                    "settings.leader_election.renew_deadline",
                ]),
                format!(
                    "lease_duration ({}) must be greater than renew_deadline ({}), as client-go's leader \
                     election requires (lease_duration > renew_deadline > 1.2 x retry_period)",
                    fmt_duration(lease),
                    fmt_duration(renew)
                ),
            ));
        }

        let lb = &st.load_balancer;
        let p = "settings.load_balancer";
        if crate::components::msg::HealthPath::parse(&lb.check_path).is_none() {
            let allowed: Vec<&str> = crate::components::msg::HealthPath::ALL
                .iter()
                .map(|h| h.path())
                .collect();
            return Err(self.err(
                &format!("{p}.check_path"),
                format!(
                    "`{}` is not a kube-apiserver health endpoint; allowed: {}",
                    lb.check_path,
                    allowed.join(", ")
                ),
            ));
        }
        for (field, d) in [
            ("check_interval", lb.check_interval),
            ("check_timeout", lb.check_timeout),
            ("connect_timeout", lb.connect_timeout),
            ("vrrp_advert_interval", lb.vrrp_advert_interval),
            ("vrrp_script_interval", lb.vrrp_script_interval),
        ] {
            self.positive(&format!("{p}.{field}"), d)?;
        }
        for (field, v) in [
            ("fall", lb.fall),
            ("rise", lb.rise),
            ("vrrp_script_fall", lb.vrrp_script_fall),
            ("vrrp_script_rise", lb.vrrp_script_rise),
        ] {
            self.at_least_one(&format!("{p}.{field}"), v)?;
        }
        for (i, &prio) in lb.vrrp_priorities.iter().enumerate() {
            if !(1..=254).contains(&prio) {
                return Err(self.err(
                    &format!("{p}.vrrp_priorities[{i}]"),
                    format!(
                        "VRRP priority {prio} is out of range; keepalived priorities are 1 to 254"
                    ),
                ));
            }
        }
        let lbs = layout.procs_of(ProcKind::Haproxy).count();
        if lb.vrrp_priorities.is_empty() && lbs >= 2 {
            return Err(self.err(
                &format!("{p}.vrrp_priorities"),
                "with 2 or more load balancers keepalived needs priorities: one per load balancer in order, \
                 the last repeated for the rest (default [101, 100])",
            ));
        }
        if !(-253..=253).contains(&lb.vrrp_script_weight) {
            return Err(self.err(
                &format!("{p}.vrrp_script_weight"),
                format!(
                    "{} is out of range; keepalived script weights are -253 to 253",
                    lb.vrrp_script_weight
                ),
            ));
        }

        let k = &st.kubelet;
        for (field, d) in [
            (
                "node_status_update_frequency",
                k.node_status_update_frequency,
            ),
            ("node_lease_duration", k.node_lease_duration),
            ("pod_startup_time", k.pod_startup_time),
            ("restart_backoff_initial", k.restart_backoff_initial),
            ("restart_backoff_max", k.restart_backoff_max),
        ] {
            self.positive(&format!("settings.kubelet.{field}"), d)?;
        }
        if k.restart_backoff_max < k.restart_backoff_initial {
            return Err(self.err(
                self.pick(&[
                    "settings.kubelet.restart_backoff_max",
                    "settings.kubelet.restart_backoff_initial",
                ]),
                format!(
                    "restart_backoff_max ({}) must be at least restart_backoff_initial ({})",
                    fmt_duration(k.restart_backoff_max.ns()),
                    fmt_duration(k.restart_backoff_initial.ns())
                ),
            ));
        }
        self.at_least_one("settings.kubelet.max_pods", k.max_pods)?;

        let nl = &st.node_lifecycle;
        for (field, d) in [
            ("node_monitor_period", nl.node_monitor_period),
            ("node_monitor_grace_period", nl.node_monitor_grace_period),
            ("node_startup_grace_period", nl.node_startup_grace_period),
        ] {
            self.positive(&format!("settings.node_lifecycle.{field}"), d)?;
        }
        for (field, v) in [
            ("node_eviction_rate", nl.node_eviction_rate),
            (
                "secondary_node_eviction_rate",
                nl.secondary_node_eviction_rate,
            ),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(self.err(
                    &format!("settings.node_lifecycle.{field}"),
                    format!("{v} is not a rate; evictions per second must be 0 or more"),
                ));
            }
        }
        let th = nl.unhealthy_zone_threshold;
        if !(th > 0.0 && th <= 1.0) {
            return Err(self.err(
                "settings.node_lifecycle.unhealthy_zone_threshold",
                format!("{th} is out of range; the threshold is a fraction of a zone's nodes, more than 0 and at most 1"),
            ));
        }

        let n = &st.network;
        if !in_unit(n.jitter) {
            return Err(self.err(
                "settings.network.jitter",
                format!(
                    "{} is out of range; jitter is a fraction of the latency, 0 to 1",
                    n.jitter
                ),
            ));
        }
        if !(n.loss >= 0.0 && n.loss < 1.0) {
            return Err(self.err(
                "settings.network.loss",
                format!(
                    "{} is out of range; the loss probability on every link must be at least 0 and less than 1 \
                     (to cut links use a partition or isolate fault)",
                    n.loss
                ),
            ));
        }
        Ok(())
    }

    fn load(&self) -> Check {
        let l = &self.s.load;
        let rps = l.requests_per_second;
        if !(rps > 0.0 && rps <= MAX_REQUESTS_PER_SECOND) {
            return Err(self.err(
                "load.requests_per_second",
                format!("{rps} is out of range; allowed: more than 0 and at most 100000"),
            ));
        }
        if !in_unit(l.write_ratio) {
            return Err(self.err(
                "load.write_ratio",
                format!(
                    "{} is out of range; the share of writes is 0 to 1",
                    l.write_ratio
                ),
            ));
        }
        self.positive("load.timeout", l.timeout)
    }

    fn workloads(&self) -> Check {
        let mut seen = HashSet::new();
        for (i, w) in self.s.workloads.iter().enumerate() {
            if w.name.trim().is_empty() {
                return Err(self.err(
                    &format!("workloads[{i}].name"),
                    "workload names must not be empty",
                ));
            }
            if !seen.insert(w.name.as_str()) {
                return Err(self.err(
                    &format!("workloads[{i}].name"),
                    format!(
                        "workload `{}` is declared twice; workload names must be unique",
                        w.name
                    ),
                ));
            }
            if w.replicas > MAX_REPLICAS {
                return Err(self.err(
                    &format!("workloads[{i}].replicas"),
                    format!(
                        "{} replicas is too many; allowed: 0 to {MAX_REPLICAS}",
                        w.replicas
                    ),
                ));
            }
        }
        Ok(())
    }

    fn faults(&self, layout: &Layout) -> Check {
        if self.s.faults.len() > MAX_FAULTS {
            return Err(self.err(
                &format!("faults[{MAX_FAULTS}]"),
                format!(
                    "{} faults is too many; at most {MAX_FAULTS}",
                    self.s.faults.len()
                ),
            ));
        }
        for (i, f) in self.s.faults.iter().enumerate() {
            self.fault(layout, i, f)?;
        }
        Ok(())
    }

    fn fault(&self, layout: &Layout, i: usize, f: &Fault) -> Check {
        let p = format!("faults[{i}]");
        let kind = f.kind.name();
        if f.at > self.s.duration {
            return Err(self.err(
                &format!("{p}.at"),
                format!(
                    "{} is after the end of the run (duration {}); a fault must start within the run",
                    fmt_duration(f.at.ns()),
                    fmt_duration(self.s.duration.ns())
                ),
            ));
        }
        if let Some(d) = f.for_ {
            if d.ns() == 0 {
                return Err(self.err(
                    &format!("{p}.for"),
                    "must be more than 0; leave `for` out for a fault that lasts to the end of the run",
                ));
            }
        }
        // CONTRACT.md: every fault may have `for` (on restart and wipe-data there is nothing to undo).
        let takes: &[&str] = match f.kind {
            FaultKind::Crash
            | FaultKind::Stop
            | FaultKind::Isolate
            | FaultKind::Restart
            | FaultKind::WipeData => &["target", "for"],
            FaultKind::Partition => &["groups", "for"],
            FaultKind::DegradeLink => &["between", "latency", "loss", "for"],
            FaultKind::SlowDisk => &["target", "fsync_latency", "for"],
            FaultKind::Restore => &["snapshot_at"],
        };
        let present = [
            ("target", f.target.is_some()),
            ("for", f.for_.is_some()),
            ("groups", f.groups.is_some()),
            ("between", f.between.is_some()),
            ("latency", f.latency.is_some()),
            ("loss", f.loss.is_some()),
            ("fsync_latency", f.fsync_latency.is_some()),
            ("snapshot_at", f.snapshot_at.is_some()),
        ];
        let takes_list = format!("at, kind, {}", takes.join(", "));
        for (field, given) in present {
            if given && !takes.contains(&field) {
                return Err(self.err(
                    &format!("{p}.{field}"),
                    format!(
                        "`{field}` does not belong to a {kind} fault; {kind} takes: {takes_list}"
                    ),
                ));
            }
        }
        let need = |field: &str, what: &str| -> ScenarioError {
            self.err(
                &format!("{p}.{field}"),
                format!("a {kind} fault needs `{field}`: {what}"),
            )
        };
        let tpath = format!("{p}.target");
        match f.kind {
            FaultKind::Restore => {
                let Some(snap) = f.snapshot_at else {
                    return Err(need(
                        "snapshot_at",
                        "when the snapshot was taken (a duration from the start, before `at`)",
                    ));
                };
                if snap.ns() > f.at.ns() {
                    return Err(self.err(
                        &format!("{p}.snapshot_at"),
                        format!(
                            "the snapshot must be taken before it is restored: snapshot_at {} is after at {}",
                            crate::engine::fmt_duration(snap.ns()),
                            crate::engine::fmt_duration(f.at.ns())
                        ),
                    ));
                }
                if layout
                    .procs_of(crate::topology::ProcKind::Etcd)
                    .next()
                    .is_none()
                {
                    return Err(self.err(
                        &p,
                        "a restore fault needs etcd members; this topology has none".to_string(),
                    ));
                }
            }
            FaultKind::Crash | FaultKind::Stop | FaultKind::Restart => {
                let t = f.target.as_deref().ok_or_else(|| {
                    need(
                        "target",
                        "a node (cp-1), a process (cp-1/etcd), a zone (zone:a) or a selector (leader:etcd)",
                    )
                })?;
                let r = self.resolve(layout, &tpath, t)?;
                self.not_client(layout, &tpath, t, r, kind)?;
            }
            FaultKind::Isolate => {
                let t = f.target.as_deref().ok_or_else(|| {
                    need(
                        "target",
                        "a node (cp-1), or a process or selector on one node",
                    )
                })?;
                if let Target::Zone(_) = self.resolve(layout, &tpath, t)? {
                    return Err(self.err(
                        &tpath,
                        format!(
                            "isolate takes one node, not a zone; to cut `{t}` off use a partition fault, e.g. \
                             \"groups\": [[\"{t}\"], [...the other zones...]]"
                        ),
                    ));
                }
            }
            FaultKind::SlowDisk | FaultKind::WipeData => {
                let t = f.target.as_deref().ok_or_else(|| {
                    need(
                        "target",
                        "a node running an etcd member, `NODE/etcd`, `leader:etcd` or `follower:etcd`",
                    )
                })?;
                let r = self.resolve(layout, &tpath, t)?;
                self.etcd_host(layout, &tpath, t, r, kind)?;
                if f.kind == FaultKind::SlowDisk && f.fsync_latency.is_none() {
                    return Err(need(
                        "fsync_latency",
                        "how long each etcd WAL fsync takes on that disk, e.g. \"500ms\"",
                    ));
                }
            }
            FaultKind::Partition => {
                let groups = f.groups.as_ref().ok_or_else(|| {
                    need(
                        "groups",
                        "two or more lists of nodes or zones, e.g. [[\"zone:a\"], [\"zone:b\", \"zone:c\"]]",
                    )
                })?;
                self.partition(layout, &p, groups)?;
            }
            FaultKind::DegradeLink => {
                let between = f.between.as_ref().ok_or_else(|| {
                    need(
                        "between",
                        "two nodes or zones, e.g. [\"zone:a\", \"zone:b\"]",
                    )
                })?;
                self.degrade(layout, &p, f, between)?;
            }
        }
        Ok(())
    }

    fn not_client(&self, layout: &Layout, path: &str, name: &str, r: Target, kind: &str) -> Check {
        let node = match r {
            Target::Node(n) => Some(n),
            Target::Proc(pi) => layout.procs.get(pi).map(|p| p.node),
            _ => None,
        };
        if node
            .and_then(|n| layout.nodes.get(n))
            .is_some_and(|n| n.kind == NodeKind::Client)
        {
            return Err(self.err(
                path,
                format!(
                    "`{name}` is the load generator outside the cluster; a {kind} fault targets cluster nodes, \
                     processes, zones or selectors"
                ),
            ));
        }
        Ok(())
    }

    fn etcd_host(&self, layout: &Layout, path: &str, name: &str, r: Target, kind: &str) -> Check {
        let members: Vec<String> = layout
            .procs_of(ProcKind::Etcd)
            .filter_map(|p| layout.procs.get(p))
            .filter_map(|p| layout.nodes.get(p.node))
            .map(|n| n.name.clone())
            .collect();
        let hosts = if members.is_empty() {
            "this topology has no etcd members".to_string()
        } else {
            format!("etcd runs on {}", list_names(&members))
        };
        let ok = match r {
            Target::Node(n) => layout
                .procs
                .iter()
                .any(|p| p.node == n && p.kind == ProcKind::Etcd),
            Target::Proc(pi) => layout
                .procs
                .get(pi)
                .is_some_and(|p| p.kind == ProcKind::Etcd),
            Target::Selector(s) => s == "leader:etcd" || s == "follower:etcd",
            Target::Zone(_) => false,
        };
        if !ok {
            return Err(self.err(
                path,
                format!(
                    "`{name}` does not host an etcd member; a {kind} fault needs a node running etcd, `NODE/etcd`, \
                     `leader:etcd` or `follower:etcd` ({hosts})"
                ),
            ));
        }
        Ok(())
    }

    /// Node indices (excluding the client) a partition/degrade member stands for.
    fn network_nodes(
        &self,
        layout: &Layout,
        path: &str,
        name: &str,
    ) -> Result<Vec<usize>, ScenarioError> {
        match self.resolve(layout, path, name)? {
            Target::Node(n) => Ok(vec![n]),
            Target::Zone(z) => Ok(layout
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.zone == z && n.kind != NodeKind::Client)
                .map(|(i, _)| i)
                .collect()),
            Target::Proc(pi) => {
                let node = layout
                    .procs
                    .get(pi)
                    .and_then(|p| layout.nodes.get(p.node))
                    .map_or("NODE", |n| n.name.as_str());
                Err(self.err(
                    path,
                    format!("`{name}` is a process; network faults take nodes or zones (use its node `{node}`)"),
                ))
            }
            Target::Selector(s) => Err(self.err(
                path,
                format!(
                    "`{s}` is resolved only when a fault fires; network faults take nodes (cp-1) or zones (zone:a)"
                ),
            )),
        }
    }

    fn partition(&self, layout: &Layout, p: &str, groups: &[Vec<String>]) -> Check {
        if groups.len() < 2 {
            return Err(self.err(
                &format!("{p}.groups"),
                format!(
                    "a partition needs at least 2 groups (got {}); nodes in different groups cannot talk, e.g. \
                     [[\"zone:a\"], [\"zone:b\", \"zone:c\"]]",
                    groups.len()
                ),
            ));
        }
        let mut owner: HashMap<usize, (usize, String)> = HashMap::new();
        for (g, group) in groups.iter().enumerate() {
            let gpath = format!("{p}.groups[{g}]");
            if group.is_empty() {
                return Err(self.err(
                    &gpath,
                    "a partition group must name at least one node or zone",
                ));
            }
            let mut members = 0;
            for (j, name) in group.iter().enumerate() {
                let mpath = format!("{gpath}[{j}]");
                let nodes = self.network_nodes(layout, &mpath, name)?;
                members += nodes.len();
                for n in nodes {
                    if let Some((og, oname)) = owner.get(&n) {
                        if *og != g {
                            let node = layout.nodes.get(n).map_or("?", |x| x.name.as_str());
                            let via = |x: &str| {
                                if x == node {
                                    String::new()
                                } else {
                                    format!(" (via `{x}`)")
                                }
                            };
                            return Err(self.err(
                                &mpath,
                                format!(
                                    "node `{node}` is in two groups: groups[{og}]{} and groups[{g}]{}; a node can \
                                     be in only one group",
                                    via(oname),
                                    via(name)
                                ),
                            ));
                        }
                    } else {
                        owner.insert(n, (g, name.clone()));
                    }
                }
            }
            if members == 0 {
                return Err(self.err(&gpath, "this group has no nodes (its zones are empty)"));
            }
        }
        Ok(())
    }

    fn degrade(&self, layout: &Layout, p: &str, f: &Fault, between: &[String]) -> Check {
        let bpath = format!("{p}.between");
        if between.len() != 2 {
            return Err(self.err(
                &bpath,
                format!(
                    "needs exactly 2 ends, nodes or zones (got {}), e.g. [\"zone:a\", \"zone:b\"] or [\"cp-1\", \"cp-2\"]",
                    between.len()
                ),
            ));
        }
        let a = self.network_nodes(layout, &format!("{bpath}[0]"), &between[0])?;
        let b = self.network_nodes(layout, &format!("{bpath}[1]"), &between[1])?;
        // The ends may be the same or overlap: then the links inside (between the zone's nodes, or between
        // the processes of one node) are degraded, which is how the network applies it.
        if a.is_empty() || b.is_empty() {
            let which = if a.is_empty() { 0 } else { 1 };
            return Err(self.err(
                &format!("{bpath}[{which}]"),
                format!("`{}` has no nodes", between[which]),
            ));
        }
        if f.latency.is_none() && f.loss.is_none() {
            return Err(self.err(
                p,
                "a degrade-link fault needs `latency` (added one-way delay, e.g. \"200ms\"), `loss` (0 to 1), or both",
            ));
        }
        if let Some(loss) = f.loss {
            if !in_unit(loss) {
                return Err(self.err(
                    &format!("{p}.loss"),
                    format!("{loss} is out of range; loss is a probability, 0 to 1"),
                ));
            }
        }
        Ok(())
    }

    /// Why a selector cannot name anything in this topology, if it cannot.
    fn selector_unavailable(layout: &Layout, sel: &str) -> Option<String> {
        let etcd = layout.procs_of(ProcKind::Etcd).count();
        let cps = layout
            .nodes
            .iter()
            .filter(|n| n.kind == NodeKind::ControlPlane)
            .count();
        let lbs = layout.procs_of(ProcKind::Haproxy).count();
        match sel {
            "leader:etcd" if etcd == 0 => Some("there are no etcd members".into()),
            "follower:etcd" if etcd < 2 => Some(format!(
                "follower:etcd needs at least 2 etcd members; this topology has {etcd}"
            )),
            "leader:kube-scheduler" | "leader:kube-controller-manager" if cps == 0 => {
                Some("there are no control-plane nodes".into())
            }
            "vip-holder" if lbs < 2 => Some(format!(
                "vip-holder needs 2 or more load balancers (a VIP moved by keepalived); this topology has {lbs}"
            )),
            _ => None,
        }
    }

    fn known_targets(layout: &Layout) -> String {
        let mut nodes = Vec::new();
        for kind in [
            NodeKind::ControlPlane,
            NodeKind::Etcd,
            NodeKind::LoadBalancer,
            NodeKind::Worker,
            NodeKind::Client,
        ] {
            let names: Vec<String> = layout
                .nodes
                .iter()
                .filter(|n| n.kind == kind)
                .map(|n| n.name.clone())
                .collect();
            if !names.is_empty() {
                nodes.push(list_names(&names));
            }
        }
        let example = layout
            .procs
            .first()
            .map_or("cp-1/etcd".to_string(), |p| p.name.clone());
        let zones: Vec<String> = layout.zones.iter().map(|z| format!("zone:{z}")).collect();
        let selectors: Vec<&str> = SELECTORS
            .iter()
            .copied()
            .filter(|s| Self::selector_unavailable(layout, s).is_none())
            .collect();
        format!(
            "known: {}; processes as NODE/PROCESS (e.g. {example}); zones {}; selectors {}",
            nodes.join(", "),
            list_names(&zones),
            if selectors.is_empty() {
                "none".to_string()
            } else {
                selectors.join(", ")
            }
        )
    }

    fn resolve(&self, layout: &Layout, path: &str, name: &str) -> Result<Target, ScenarioError> {
        if name.trim().is_empty() {
            return Err(self.err(
                path,
                format!("empty target; {}", Self::known_targets(layout)),
            ));
        }
        if let Some(z) = name.strip_prefix("zone:") {
            return match layout.zone_index(z) {
                Some(i) => Ok(Target::Zone(i)),
                None => {
                    let zones: Vec<String> =
                        layout.zones.iter().map(|z| format!("zone:{z}")).collect();
                    Err(self.err(
                        path,
                        format!(
                            "unknown zone `{z}`{}; zones: {}",
                            suggest(name, zones.iter().map(String::as_str)),
                            zones.join(", ")
                        ),
                    ))
                }
            };
        }
        if let Some(n) = layout.node_index(name) {
            return Ok(Target::Node(n));
        }
        if let Some(p) = layout.proc_index(name) {
            return Ok(Target::Proc(p));
        }
        if let Some(sel) = SELECTORS.iter().copied().find(|s| *s == name) {
            if let Some(why) = Self::selector_unavailable(layout, sel) {
                return Err(self.err(
                    path,
                    format!(
                        "`{sel}` names nothing in this topology: {why}; {}",
                        Self::known_targets(layout)
                    ),
                ));
            }
            return Ok(Target::Selector(sel));
        }
        if let Some((node, proc)) = name.split_once('/') {
            if let Some(n) = layout.node_index(node) {
                let here: Vec<&str> = layout
                    .procs
                    .iter()
                    .filter(|p| p.node == n)
                    .map(|p| p.kind.name())
                    .collect();
                let msg = if ProcKind::from_name(proc).is_some() {
                    let why = match proc {
                        "etcd" if self.s.topology.etcd == EtcdTopology::External => {
                            " (with external etcd the members run on the etcd-N nodes)"
                        }
                        "keepalived" => " (keepalived runs only with 2 or more load balancers)",
                        _ => "",
                    };
                    format!(
                        "`{node}` runs no {proc}{why}; processes on {node}: {}",
                        here.join(", ")
                    )
                } else {
                    let all = crate::topology::ALL_PROC_KINDS.map(|k| k.name());
                    format!(
                        "unknown process `{proc}`{}; processes on {node}: {}",
                        suggest(proc, all),
                        here.join(", ")
                    )
                };
                return Err(self.err(path, msg));
            }
        }
        Err(self.err(path, self.unknown_target(layout, name)))
    }

    fn unknown_target(&self, layout: &Layout, name: &str) -> String {
        let node_part = name.split('/').next().unwrap_or(name);
        let numbered = node_part
            .rsplit_once('-')
            .filter(|(_, n)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        let known = Self::known_targets(layout);
        if let Some((prefix, _)) = numbered {
            let kind = match prefix {
                "cp" => Some(NodeKind::ControlPlane),
                "etcd" => Some(NodeKind::Etcd),
                "lb" => Some(NodeKind::LoadBalancer),
                "worker" => Some(NodeKind::Worker),
                _ => None,
            };
            if let Some(kind) = kind {
                let names: Vec<String> = layout
                    .nodes
                    .iter()
                    .filter(|n| n.kind == kind)
                    .map(|n| n.name.clone())
                    .collect();
                let what = human_kind(kind);
                let have = if names.is_empty() {
                    let extra = match kind {
                        NodeKind::Etcd if self.s.topology.etcd == EtcdTopology::Stacked => {
                            " (stacked etcd runs its members on the control-plane nodes: cp-N/etcd)"
                        }
                        NodeKind::LoadBalancer if self.s.topology.endpoint != "load-balancer" => {
                            " (the endpoint is direct, so there are no load balancers)"
                        }
                        _ => "",
                    };
                    format!("there are no {what}{extra}")
                } else {
                    format!("there are {} {what} ({})", names.len(), list_names(&names))
                };
                return format!("unknown target `{name}`: {have}; {known}");
            }
        }
        // Suggest among processes for `NODE/PROCESS`-shaped names, else among nodes, zones and selectors.
        let names = layout.target_names();
        let suggestion = suggest(
            name,
            names
                .iter()
                .map(String::as_str)
                .filter(|n| n.contains('/') == name.contains('/')),
        );
        format!("unknown target `{name}`{suggestion}; {known}")
    }

    fn expectations(&self) -> Check {
        let known = known_metrics(self.s);
        for (i, e) in self.s.expect.iter().enumerate() {
            let p = format!("expect[{i}]");
            let m = e.metric.as_str();
            if let Some([a, b]) = &e.window {
                if a.ns() >= b.ns() || b.ns() > self.s.duration.ns() {
                    return Err(self.err(
                        &format!("{p}.window"),
                        format!(
                            "window must be [from, to] with from < to <= duration ({}); e.g. [\"60s\", \"3m\"]",
                            crate::engine::fmt_duration(self.s.duration.ns())
                        ),
                    ));
                }
            }
            if let Some(pct) = e.percentile {
                if !(pct > 0.0 && pct <= 100.0) {
                    return Err(self.err(
                        &format!("{p}.percentile"),
                        format!("percentile must be in (0, 100], got {pct}"),
                    ));
                }
            }
            if e.recovered_within.is_some() {
                let cap = m.strip_suffix(".recovery_s").unwrap_or(m);
                if !CAPABILITIES.contains(&cap) {
                    return Err(self.err(
                        &format!("{p}.metric"),
                        format!(
                            "`recovered_within` applies to a capability; `{m}` is not one of {}",
                            CAPABILITIES.join(", ")
                        ),
                    ));
                }
                if e.at_least.is_some() || e.at_most.is_some() || e.equals.is_some() {
                    return Err(self.err(
                        &p,
                        "`recovered_within` is the bound; remove `at_least`/`at_most`/`equals`"
                            .to_string(),
                    ));
                }
                continue;
            }
            if !known.iter().any(|k| k == m) {
                let msg = if let Some(w) = m
                    .strip_prefix("workload.")
                    .and_then(|r| r.strip_suffix(".ready_ratio"))
                {
                    let names: Vec<&str> =
                        self.s.workloads.iter().map(|w| w.name.as_str()).collect();
                    format!(
                        "there is no workload `{w}`{}; declared workloads: {}",
                        suggest(w, names.iter().copied()),
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    )
                } else {
                    format!(
                        "unknown metric `{m}`{}; known: {}{}",
                        suggest(m, known.iter().map(String::as_str)),
                        known
                            .iter()
                            .filter(|k| !k.starts_with("workload."))
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", "),
                        if self.s.workloads.is_empty() {
                            ""
                        } else {
                            ", workload.NAME.ready_ratio"
                        }
                    )
                };
                return Err(self.err(&format!("{p}.metric"), msg));
            }
            if self.s.workloads.is_empty() && (m.starts_with("workloads.")) {
                return Err(self.err(
                    &format!("{p}.metric"),
                    format!(
                        "`{m}` is not measured: the scenario declares no workloads; add one under `workloads` or \
                         remove this expectation"
                    ),
                ));
            }
            let bounds: Vec<&str> = [
                ("at_least", e.at_least.is_some()),
                ("at_most", e.at_most.is_some()),
                ("equals", e.equals.is_some()),
            ]
            .iter()
            .filter(|(_, given)| *given)
            .map(|(n, _)| *n)
            .collect();
            match bounds.as_slice() {
                [_] => {}
                [] => {
                    return Err(self.err(
                        &p,
                        format!(
                            "expectation on `{m}` has no bound; give exactly one of `at_least`, `at_most`, `equals`"
                        ),
                    ))
                }
                [first, second, ..] => {
                    return Err(self.err(
                        &format!("{p}.{second}"),
                        format!(
                            "an expectation takes exactly one of `at_least`, `at_most`, `equals`, but this one has \
                             `{first}` and `{second}`; write a second expectation for the other bound"
                        ),
                    ))
                }
            }
        }
        Ok(())
    }
}
