//! YAML scenario files (`.yaml`, `.yml`): the same fields as JSON. The text is read with yaml-rust2's
//! event parser into a JSON value, recording where each value and key stands (by field path, as the
//! JSON scanner in [`super::spans`] does), so that every later error, from serde or from validation,
//! points at the YAML the user wrote. Plain scalars follow YAML 1.2's core schema (`true`/`false`,
//! `null`/`~`/empty, integers and floats); quoted scalars are always strings. Anchors and aliases are
//! refused: a scenario has no use for them and an alias would have no position of its own. yaml-rust2's
//! markers count lines from 1 and columns from 0.

use super::error::{error_at, ScenarioError};
use super::spans::{join, Spans};
use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// The deepest nesting accepted (as the JSON scanner's bound).
const MAX_DEPTH: usize = 256;

/// Whether a file name is a YAML scenario file's.
pub fn is_yaml(file: &str) -> bool {
    let lower = file.to_ascii_lowercase();
    lower.ends_with(".yaml") || lower.ends_with(".yml")
}

enum Frame {
    Map {
        path: String,
        map: Map<String, Value>,
        key: Option<String>,
    },
    List {
        path: String,
        items: Vec<Value>,
    },
}

struct Builder<'a> {
    file: &'a str,
    stack: Vec<Frame>,
    root: Option<Value>,
    spans: Spans,
    error: Option<ScenarioError>,
}

impl Builder<'_> {
    fn fail(&mut self, path: String, mark: Marker, message: String) {
        if self.error.is_none() {
            self.error = Some(error_at(
                self.file,
                path,
                Some((mark.line(), mark.col() + 1)),
                message,
            ));
        }
    }

    /// The path of the value that comes next, if it is a value (not a mapping key).
    fn next_path(&self) -> Option<String> {
        match self.stack.last() {
            None => Some(String::new()),
            Some(Frame::Map { path, key, .. }) => key.as_ref().map(|k| join(path, k)),
            Some(Frame::List { path, items }) => Some(format!("{path}[{}]", items.len())),
        }
    }

    fn place(&mut self, v: Value) {
        match self.stack.last_mut() {
            None => self.root = Some(v),
            Some(Frame::Map { map, key, .. }) => {
                if let Some(k) = key.take() {
                    map.insert(k, v);
                }
            }
            Some(Frame::List { items, .. }) => items.push(v),
        }
    }

    fn start(&mut self, mark: Marker, first: char) -> Option<String> {
        let path = self.next_path()?;
        let pos = (mark.line(), mark.col() + 1);
        self.spans.values.insert(path.clone(), pos);
        self.spans.starts.insert(path.clone(), first);
        Some(path)
    }

    fn scalar(&mut self, text: String, style: TScalarStyle, mark: Marker) {
        if let Some(Frame::Map { path, map, key }) = self.stack.last_mut() {
            if key.is_none() {
                let child = join(path, &text);
                if map.contains_key(&text) {
                    let msg = format!("the key `{text}` appears twice in this mapping");
                    self.fail(child, mark, msg);
                    return;
                }
                self.spans.keys.insert(child, (mark.line(), mark.col() + 1));
                *key = Some(text);
                return;
            }
        }
        let value = if style == TScalarStyle::Plain {
            resolve(&text)
        } else {
            Value::String(text)
        };
        let first = match &value {
            Value::String(_) => '"',
            Value::Bool(true) => 't',
            Value::Bool(false) => 'f',
            Value::Null => 'n',
            Value::Number(_) => '0',
            Value::Array(_) => '[',
            Value::Object(_) => '{',
        };
        if self.start(mark, first).is_some() {
            self.place(value);
        }
    }
}

/// A plain scalar by YAML 1.2's core schema.
fn resolve(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Ok(u) = text.parse::<u64>() {
        return Value::Number(u.into());
    }
    let numeric = text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        && text.chars().any(|c| c.is_ascii_digit());
    if numeric {
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(text.to_string())
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) if anchor != 0 => {
                let path = self.next_path().unwrap_or_default();
                self.fail(
                    path,
                    mark,
                    "YAML anchors (&name) are not supported in scenario files; write the value out"
                        .into(),
                );
            }
            Event::MappingStart(..) | Event::SequenceStart(..) if self.stack.len() >= MAX_DEPTH => {
                let path = self.next_path().unwrap_or_default();
                self.fail(path, mark, format!("nested deeper than {MAX_DEPTH} levels"));
            }
            Event::MappingStart(..) => {
                if let Some(path) = self.start(mark, '{') {
                    self.stack.push(Frame::Map {
                        path,
                        map: Map::new(),
                        key: None,
                    });
                } else {
                    self.fail(
                        self.stack_path(),
                        mark,
                        "a mapping key must be a plain name, not a mapping or list".into(),
                    );
                }
            }
            Event::SequenceStart(..) => {
                if let Some(path) = self.start(mark, '[') {
                    self.stack.push(Frame::List {
                        path,
                        items: Vec::new(),
                    });
                } else {
                    self.fail(
                        self.stack_path(),
                        mark,
                        "a mapping key must be a plain name, not a mapping or list".into(),
                    );
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let v = match self.stack.pop() {
                    Some(Frame::Map { map, .. }) => Value::Object(map),
                    Some(Frame::List { items, .. }) => Value::Array(items),
                    None => return,
                };
                self.place(v);
            }
            Event::Scalar(_, _, anchor, _) if anchor != 0 => {
                let path = self.next_path().unwrap_or_default();
                self.fail(
                    path,
                    mark,
                    "YAML anchors (&name) are not supported in scenario files; write the value out"
                        .into(),
                );
            }
            Event::Scalar(text, style, _, _) => self.scalar(text, style, mark),
            Event::Alias(_) => {
                let path = self.next_path().unwrap_or_default();
                self.fail(
                    path,
                    mark,
                    "YAML aliases (*name) are not supported in scenario files; write the value out"
                        .into(),
                );
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

impl Builder<'_> {
    fn stack_path(&self) -> String {
        match self.stack.last() {
            Some(Frame::Map { path, .. } | Frame::List { path, .. }) => path.clone(),
            None => String::new(),
        }
    }
}

/// Reads YAML text (its first document) into a JSON value and the positions of its values.
pub(crate) fn to_json(text: &str, file: &str) -> Result<(Value, Spans), ScenarioError> {
    let mut b = Builder {
        file,
        stack: Vec::new(),
        root: None,
        spans: Spans::default(),
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut b, false) {
        let m = e.marker();
        return Err(error_at(
            file,
            String::new(),
            Some((m.line(), m.col() + 1)),
            format!("not valid YAML: {}", e.info()),
        ));
    }
    if let Some(e) = b.error {
        return Err(e);
    }
    match b.root {
        Some(v) => Ok((v, b.spans)),
        None => Err(ScenarioError::whole_file(
            file,
            "the file is empty; a scenario has at least `name`, `duration` and `topology`".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_follow_the_core_schema_and_quoted_ones_stay_strings() {
        let (v, spans) = to_json(
            "name: t\nduration: 10m\nseed: 7\nratio: 0.5\non: true\nnothing: ~\nquoted: \"12\"\nlist:\n  - a\n  - 3\n",
            "t.yaml",
        )
        .unwrap();
        assert_eq!(v["duration"], Value::String("10m".into()));
        assert_eq!(v["seed"], Value::Number(7.into()));
        assert_eq!(v["ratio"].as_f64(), Some(0.5));
        assert_eq!(v["on"], Value::Bool(true));
        assert_eq!(v["nothing"], Value::Null);
        assert_eq!(v["quoted"], Value::String("12".into()));
        assert_eq!(v["list"][1], Value::Number(3.into()));
        assert_eq!(spans.value("list[1]"), Some((10, 5)));
        assert_eq!(spans.key("seed"), Some((3, 1)));
        assert_eq!(spans.found("quoted"), "a string");
    }

    #[test]
    fn duplicate_keys_aliases_and_bad_yaml_are_errors_with_positions() {
        let e = to_json("name: a\nname: b\n", "t.yaml").unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(1)));
        assert!(e.message.contains("twice"), "{}", e.message);
        let e = to_json("a: &x 1\nb: *x\n", "t.yaml").unwrap_err();
        assert!(e.message.contains("anchors"), "{}", e.message);
        let e = to_json("a: [1, 2\n", "t.yaml").unwrap_err();
        assert!(e.message.starts_with("not valid YAML"), "{}", e.message);
        assert!(e.line.is_some());
    }
}
