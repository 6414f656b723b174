//! Source positions of values: a small JSON scanner that records where each value and key starts, by
//! field path, so that errors point at what the user wrote.

use std::collections::HashMap;

/// Where each value (and each object key) of the file starts, by field path.
#[derive(Debug, Default)]
pub(crate) struct Spans {
    pub(crate) values: HashMap<String, (usize, usize)>,
    /// The first character of each value: `{`, `[`, `"`, a digit, `-`, `t`, `f` or `n`.
    pub(crate) starts: HashMap<String, char>,
    pub(crate) keys: HashMap<String, (usize, usize)>,
}

pub(crate) fn parent_path(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    Some(path.rfind(['.', '[']).map_or("", |i| &path[..i]))
}

impl Spans {
    /// Indexes the text; stops quietly at anything that is not well-formed JSON.
    pub(crate) fn index(text: &str) -> Spans {
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
    pub(crate) fn value(&self, path: &str) -> Option<(usize, usize)> {
        let mut p = path;
        loop {
            if let Some(&pos) = self.values.get(p) {
                return Some(pos);
            }
            p = parent_path(p)?;
        }
    }

    /// The position of the key of the field at `path` (falling back to `value`).
    pub(crate) fn key(&self, path: &str) -> Option<(usize, usize)> {
        self.keys.get(path).copied().or_else(|| self.value(path))
    }

    pub(crate) fn has(&self, path: &str) -> bool {
        self.values.contains_key(path)
    }

    /// What kind of JSON value is at `path`, in words.
    pub(crate) fn found(&self, path: &str) -> &'static str {
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

    pub(crate) fn value(&mut self, path: String, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.spans
            .values
            .insert(path.clone(), (self.line, self.col));
        let first = self.peek()?;
        self.spans.starts.insert(path.clone(), first);
        match first {
            '{' => self.object(&path, depth),
            '[' => self.array(&path, depth),
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

    /// An object's keys and values, recording where each key stands (errors about a key point at it).
    fn object(&mut self, path: &str, depth: usize) -> Option<()> {
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
            let child = join(path, &key);
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

    /// An array's elements, each under `PATH[INDEX]`.
    fn array(&mut self, path: &str, depth: usize) -> Option<()> {
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

/// The path without list indices: `faults[2].kind` → `faults.kind`.
pub(crate) fn shape(path: &str) -> String {
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

/// `parent.key`, or `key` at the top level.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}
