//! A YAML stream (possibly several `---` documents) read with yaml-rust2's event parser into a small
//! tree that keeps each value's line, so that an import error or a comment in the written scenario can
//! name `file:line`. Scalars stay text: kubeadm and pod manifests are read key by key, and each key
//! decides how its text is parsed.

use crate::scenario::error::{error_at, ScenarioError};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A YAML value with the 1-based line and column (in characters) it starts at.
#[derive(Clone, Debug)]
pub struct Node {
    pub line: usize,
    pub col: usize,
    pub value: Value,
}

/// A YAML value: scalars are kept as their text.
#[derive(Clone, Debug)]
pub enum Value {
    Scalar(String),
    Map(Vec<(String, Node)>),
    List(Vec<Node>),
}

impl Node {
    /// Where the value starts: (line, column), as errors take it.
    pub fn pos(&self) -> (usize, usize) {
        (self.line, self.col)
    }

    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Value::Scalar(_) | Value::List(_) => None,
        }
    }

    /// The value at a dotted path of mapping keys (`etcd.local.extraArgs`).
    pub fn at(&self, path: &str) -> Option<&Node> {
        path.split('.').try_fold(self, |n, k| n.get(k))
    }

    /// The text of a scalar.
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            Value::Map(_) | Value::List(_) => None,
        }
    }

    /// The items of a list (none for anything else).
    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::List(items) => items,
            Value::Scalar(_) | Value::Map(_) => &[],
        }
    }

    /// The entries of a mapping (none for anything else).
    pub fn entries(&self) -> &[(String, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            Value::Scalar(_) | Value::List(_) => &[],
        }
    }
}

enum Frame {
    Map {
        at: (usize, usize),
        entries: Vec<(String, Node)>,
        key: Option<String>,
    },
    List {
        at: (usize, usize),
        items: Vec<Node>,
    },
}

struct Builder<'a> {
    file: &'a str,
    stack: Vec<Frame>,
    docs: Vec<Node>,
    error: Option<ScenarioError>,
}

impl Builder<'_> {
    fn fail(&mut self, mark: Marker, message: &str) {
        if self.error.is_none() {
            let pos = Some((mark.line(), mark.col() + 1));
            self.error = Some(error_at(self.file, String::new(), pos, message.into()));
        }
    }

    fn place(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Map { at, entries, key }) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => match node.value {
                    Value::Scalar(k) => {
                        // yaml-rust2 marks a block mapping's start at its first `:`; the mapping
                        // starts where its first key does.
                        if entries.is_empty() {
                            *at = (*at).min((node.line, node.col));
                        }
                        *key = Some(k)
                    }
                    Value::Map(_) | Value::List(_) => {
                        self.error.get_or_insert_with(|| {
                            let pos = Some(node.pos());
                            let msg = "a mapping key must be a plain name, not a mapping or list";
                            error_at(self.file, String::new(), pos, msg.into())
                        });
                    }
                },
            },
            Some(Frame::List { items, .. }) => items.push(node),
        }
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        // yaml-rust2 counts lines from 1 and columns (characters) from 0.
        let at = (mark.line(), mark.col() + 1);
        match ev {
            Event::Alias(_) => self.fail(mark, "YAML aliases (*name) are not supported here"),
            Event::MappingStart(..) | Event::SequenceStart(..) if self.stack.len() >= 64 => {
                self.fail(mark, "nested deeper than 64 levels")
            }
            Event::MappingStart(..) => self.stack.push(Frame::Map {
                at,
                entries: Vec::new(),
                key: None,
            }),
            Event::SequenceStart(..) => self.stack.push(Frame::List {
                at,
                items: Vec::new(),
            }),
            Event::MappingEnd | Event::SequenceEnd => {
                let node = match self.stack.pop() {
                    Some(Frame::Map { at, entries, .. }) => Node {
                        line: at.0,
                        col: at.1,
                        value: Value::Map(entries),
                    },
                    Some(Frame::List { at, items }) => Node {
                        line: at.0,
                        col: at.1,
                        value: Value::List(items),
                    },
                    None => return,
                };
                self.place(node);
            }
            Event::Scalar(text, ..) => self.place(Node {
                line: at.0,
                col: at.1,
                value: Value::Scalar(text),
            }),
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// Every document of a YAML stream (empty documents are left out); `file` labels errors.
pub fn documents(text: &str, file: &str) -> Result<Vec<Node>, ScenarioError> {
    let mut b = Builder {
        file,
        stack: Vec::new(),
        docs: Vec::new(),
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut b, true) {
        let m = e.marker();
        let pos = Some((m.line(), m.col() + 1));
        let msg = format!("not valid YAML: {}", e.info());
        return Err(error_at(file, String::new(), pos, msg).with_source(text));
    }
    if let Some(e) = b.error {
        return Err(e.with_source(text));
    }
    Ok(b.docs
        .into_iter()
        .filter(|d| !matches!(&d.value, Value::Scalar(s) if s.is_empty()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_lines() {
        let docs = documents("a: 1\n---\nkind: X\nb:\n  c: [1, 2]\n", "t.yaml").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].get("kind").unwrap().text(), Some("X"));
        assert_eq!(docs[1].at("b.c").unwrap().items()[1].pos(), (5, 10));
        assert_eq!(docs[1].get("kind").unwrap().pos(), (3, 7));
        // A block mapping starts at its first key (yaml-rust2 marks it at the first `:`).
        assert_eq!(docs[1].pos(), (3, 1));
        assert_eq!(docs[1].get("b").unwrap().pos(), (5, 3));
        let e = documents("a: [1\n", "t.yaml").unwrap_err();
        assert!(e.line.is_some() && e.message.starts_with("not valid YAML"));
    }
}
