//! Errors in a scenario file: where the problem is (file, field path, line and column) and what would be
//! accepted instead; and the translation of serde's messages into those words.

use super::spans::{join, parent_path, shape, Spans};
use super::suggest::suggest;
use crate::scenario::model::FaultKind;
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde_path_to_error::Segment;
use std::fmt;

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
    /// The text of the offending line, shown under the message with a caret under the column.
    pub source_line: Option<Box<str>>,
}

impl ScenarioError {
    /// An error about the whole file (no position).
    pub fn whole_file(file: &str, message: String) -> ScenarioError {
        ScenarioError {
            file: file.to_string(),
            path: String::new(),
            line: None,
            column: None,
            message,
            source_line: None,
        }
    }

    /// The same error with the offending line of `text` attached, for the caret display.
    pub(crate) fn with_source(mut self, text: &str) -> ScenarioError {
        if let Some(line) = self.line {
            self.source_line = text
                .split('\n')
                .nth(line - 1)
                .map(|l| l.trim_end_matches('\r').into());
        }
        self
    }

    /// The offending line with a caret under the value, rustc-style (`annotate-snippets`).
    fn snippet(&self) -> Option<String> {
        let (text, line, col) = (self.source_line.as_deref()?, self.line?, self.column?);
        let start = text
            .char_indices()
            .nth(col.checked_sub(1)?)
            .map(|(b, _)| b)?;
        let end = start + token_len(&text[start..]);
        let mut snippet = Snippet::source(text)
            .line_start(line)
            .fold(false)
            .annotation(AnnotationKind::Primary.span(start..end));
        if !self.file.is_empty() {
            snippet = snippet.path(self.file.as_str());
        }
        let report = &[Group::with_level(Level::ERROR).element(snippet)];
        Some(Renderer::plain().render(report).to_string())
    }
}

/// The length in bytes of the JSON token at the start of `s`: a whole string with its quotes, a number
/// or a literal; one character for anything else (`{`, `[`, a stray character).
fn token_len(s: &str) -> usize {
    let mut chars = s.char_indices();
    match chars.next() {
        None => 0,
        Some((_, '"')) => {
            let mut escaped = false;
            for (i, c) in chars {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => return i + 1,
                    _ => escaped = false,
                }
            }
            s.len()
        }
        Some((_, c)) if c.is_ascii_alphanumeric() || c == '-' || c == '.' => s
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.')))
            .unwrap_or(s.len()),
        Some((_, c)) => c.len_utf8(),
    }
}

impl fmt::Display for ScenarioError {
    /// `FILE:LINE:COL: field `PATH`: MESSAGE`, leaving out the parts that are unknown; then, when the
    /// line is known, the offending line with a caret under the column.
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
        f.write_str(&self.message)?;
        if let Some(snippet) = self.snippet() {
            write!(f, "\n{snippet}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

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

/// The message of a serde_json error without its " at line L column C" suffix.
fn bare_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_string()
}

/// serde_json's (line, byte column) as (line, character column); `None` when unknown.
pub(crate) fn char_position(text: &str, line: usize, byte_col: usize) -> Option<(usize, usize)> {
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

pub(crate) fn error_at(
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
        source_line: None,
    }
}

pub(crate) fn syntax_error(text: &str, file: &str, e: &serde_json::Error) -> ScenarioError {
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

pub(crate) fn serde_error(
    text: &str,
    file: &str,
    spans: &Spans,
    e: serde_path_to_error::Error<serde_json::Error>,
) -> ScenarioError {
    let path = path_string(e.path());
    let inner = e.into_inner();
    let raw = bare_message(&inner);
    let at = |path: &str| {
        spans
            .value(path)
            .or_else(|| char_position(text, inner.line(), inner.column()))
    };
    // Well-formed JSON that serde_json still cannot take: say which rule it breaks.
    if raw == "number out of range" {
        let pos = at(&path);
        return error_at(
            file,
            path,
            pos,
            "the number is too large to be represented (beyond about 1.8e308); use a smaller number"
                .into(),
        );
    }
    // A lone UTF-16 surrogate escape (`"\ud800"`): serde_json says "unexpected end of hex escape" or
    // "lone leading surrogate".
    if raw.contains("surrogate") || raw == "unexpected end of hex escape" {
        let pos = at(&path);
        return error_at(
            file,
            path,
            pos,
            "the string has a \\uD800-\\uDFFF escape that is not half of a surrogate pair; JSON \
             text must be valid Unicode"
                .into(),
        );
    }
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
pub(crate) fn check_objects(spans: &Spans, file: &str) -> Result<(), ScenarioError> {
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

/// The allowed values of an enum-valued field, by path.
fn enum_values(path: &str) -> Option<&'static [&'static str]> {
    match shape(path).as_str() {
        "topology.etcd" => Some(&["stacked", "external"]),
        "settings.leader_election.api_endpoint" => Some(&["local", "load-balancer"]),
        "load.target" => Some(&["api", "etcd"]),
        "load.connection" => Some(&["per-request", "long-lived"]),
        "load.api_via" => Some(&["endpoint", "kubernetes-service"]),
        "workloads.spread" => Some(&["none", "zones", "first-zone"]),
        "faults.kind" => Some(&FaultKind::NAMES),
        "settings.load_balancer.check_path" => Some(&["/healthz", "/readyz", "/livez"]),
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

/// Where a data error stands: the file, its spans and the path serde reported, with serde's own position
/// as the fallback when the spans do not know the path.
struct DataAt<'a> {
    file: &'a str,
    spans: &'a Spans,
    path: String,
    serde_pos: Option<(usize, usize)>,
}

impl DataAt<'_> {
    /// Where the value at `p` starts, so that the caret points at what the user wrote.
    fn value_pos(&self, p: &str) -> Option<(usize, usize)> {
        self.spans.value(p).or(self.serde_pos)
    }

    /// Where the key `p` stands, for errors about a key rather than its value.
    fn key_pos(&self, p: &str) -> Option<(usize, usize)> {
        self.spans.key(p).or(self.serde_pos)
    }
}

/// serde's data errors (a wrong field, value or type) in the scenario's words, pointing at the place in
/// the file: each kind of message has its own rewriting below, tried in turn.
fn data_error(
    text: &str,
    file: &str,
    spans: &Spans,
    path: String,
    e: &serde_json::Error,
) -> ScenarioError {
    let raw = bare_message(e);
    let at = DataAt {
        file,
        spans,
        path,
        serde_pos: char_position(text, e.line(), e.column()),
    };
    unknown_field(&at, &raw)
        .or_else(|| unknown_variant(&at, &raw))
        .or_else(|| missing_field(&at, &raw))
        .or_else(|| duplicate_field(&at, &raw))
        .or_else(|| wrong_type(&at, &raw))
        // Custom messages (durations) already say what is allowed.
        .unwrap_or_else(|| error_at(file, at.path.clone(), at.value_pos(&at.path), raw))
}

/// serde's "unknown field" names the key and lists the allowed ones; we add a suggestion and say
/// where the key is.
fn unknown_field(at: &DataAt, raw: &str) -> Option<ScenarioError> {
    let (name, rest) = take_named(raw, "unknown field `")?;
    let path = &at.path;
    let allowed = backticked(rest);
    // serde_path_to_error stops at the object holding the unknown key; name the key itself.
    let full = if path == name || path.ends_with(&format!(".{name}")) {
        path.clone()
    } else {
        join(path, name)
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
    let pos = at.key_pos(&full);
    Some(error_at(
        at.file,
        full,
        pos,
        format!("unknown field `{name}`{suggestion}; allowed fields {place}: {list}"),
    ))
}

/// serde's "unknown variant": the allowed values come from our own tables where we have them, so
/// that the list reads as the help does.
fn unknown_variant(at: &DataAt, raw: &str) -> Option<ScenarioError> {
    let (value, rest) = take_named(raw, "unknown variant `")?;
    let path = &at.path;
    let allowed = match enum_values(path) {
        Some(v) => v.iter().map(|s| s.to_string()).collect(),
        None => backticked(rest),
    };
    let suggestion = suggest(value, allowed.iter().map(String::as_str));
    let what = if shape(path) == "faults.kind" {
        "fault kind"
    } else {
        "value"
    };
    Some(error_at(
        at.file,
        path.clone(),
        at.value_pos(path),
        format!(
            "unknown {what} `{value}`{suggestion}; allowed: {}",
            allowed.join(", ")
        ),
    ))
}

/// A missing field is reported at the object that lacks it, with what that kind of object needs.
fn missing_field(at: &DataAt, raw: &str) -> Option<ScenarioError> {
    let (name, _) = take_named(raw, "missing field `")?;
    let path = &at.path;
    Some(error_at(
        at.file,
        join(path, name),
        at.value_pos(path),
        format!("missing required field `{name}`{}", missing_hint(path)),
    ))
}

/// A key given twice is reported at the key, not at the object.
fn duplicate_field(at: &DataAt, raw: &str) -> Option<ScenarioError> {
    let (name, _) = take_named(raw, "duplicate field `")?;
    let path = &at.path;
    let full = if path.ends_with(name) {
        path.clone()
    } else {
        join(path, name)
    };
    let pos = at.key_pos(&full);
    Some(error_at(
        at.file,
        full,
        pos,
        format!("field `{name}` is given twice; give it once"),
    ))
}

/// serde's "invalid type/value: X, expected Y" turned around to say what is expected first, in the
/// words of the scenario format.
fn wrong_type(at: &DataAt, raw: &str) -> Option<ScenarioError> {
    let path = &at.path;
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = raw.strip_prefix(prefix) {
            if let Some(i) = rest.rfind(", expected ") {
                let found = &rest[..i];
                let expected = &rest[i + ", expected ".len()..];
                return Some(error_at(
                    at.file,
                    path.clone(),
                    at.value_pos(path),
                    format!(
                        "expected {}, found {found}",
                        humanize_expected(expected, path)
                    ),
                ));
            }
        }
    }
    None
}
