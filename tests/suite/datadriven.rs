//! A small runner for data-driven test files in the format of cockroachdb/datadriven, which
//! etcd-io/raft's `testdata/*.txt` use:
//!
//! ```text
//! # A comment.
//! command arg key=value key=(a,b) key=[free text, kept whole]
//! optional input lines
//! ----
//! expected output, up to the first blank line
//!
//! command-with-blank-lines-in-its-output
//! ----
//! ----
//! output that may contain
//!
//! blank lines
//! ----
//! ----
//! ```
//!
//! Every case runs, in order, against one state carried through the file. With `REWRITE=1` in the
//! environment the expected outputs are replaced by the actual ones (comments, commands and inputs
//! are kept verbatim), so a deliberate change of behaviour is one command plus a reviewed diff.

use std::fmt::Write as _;
use std::path::Path;
use std::str::FromStr;

/// One argument of a directive: `key`, `key=value`, `key=(a,b)` or `key=[text]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arg {
    pub key: String,
    /// Empty for a bare `key`; the comma-separated parts for `(a,b)`; the text for `[text]`.
    pub vals: Vec<String>,
}

/// One case: the directive, its input and where it is.
#[derive(Clone, Debug)]
pub struct TestData {
    /// `file:line` of the directive, for error messages.
    pub pos: String,
    pub cmd: String,
    pub args: Vec<Arg>,
    /// The lines between the directive and `----`, newline-terminated (empty when none).
    pub input: String,
}

impl TestData {
    /// The bare arguments (no `=`), in order: `campaign 1` has `["1"]`.
    pub fn positional(&self) -> Vec<&str> {
        self.args
            .iter()
            .filter(|a| a.vals.is_empty())
            .map(|a| a.key.as_str())
            .collect()
    }

    /// The `i`-th bare argument parsed as `T`; panics with the position when missing or bad.
    pub fn pos_arg<T: FromStr>(&self, i: usize) -> T {
        let p = self.positional();
        let s = p
            .get(i)
            .unwrap_or_else(|| panic!("{}: {}: argument {} missing", self.pos, self.cmd, i + 1));
        s.parse()
            .unwrap_or_else(|_| panic!("{}: {}: bad argument `{s}`", self.pos, self.cmd))
    }

    /// The values of `key=...`, if given.
    pub fn vals(&self, key: &str) -> Option<&[String]> {
        self.args
            .iter()
            .find(|a| a.key == key && !a.vals.is_empty())
            .map(|a| a.vals.as_slice())
    }

    /// `key=value` parsed as `T`, or `default` when absent; panics with the position when bad.
    pub fn scan_or<T: FromStr>(&self, key: &str, default: T) -> T {
        match self.vals(key) {
            None => default,
            Some([v]) => v
                .parse()
                .unwrap_or_else(|_| panic!("{}: bad value `{key}={v}`", self.pos)),
            Some(vs) => panic!("{}: `{key}` takes one value, got {vs:?}", self.pos),
        }
    }

    /// Panics unless every argument key is one of `known` (bare arguments are not checked), so
    /// that a misspelt option fails instead of silently taking its default.
    pub fn only_keys(&self, known: &[&str]) {
        for a in &self.args {
            if !a.vals.is_empty() && !known.contains(&a.key.as_str()) {
                panic!(
                    "{}: {}: unknown option `{}` (known: {})",
                    self.pos,
                    self.cmd,
                    a.key,
                    known.join(", ")
                );
            }
        }
    }
}

/// A piece of a test file: text kept verbatim, or a case with its expected output.
enum Block {
    Verbatim(String),
    Case {
        data: TestData,
        /// The directive and input lines as written, up to and including the first `----`.
        header: String,
        expected: String,
    },
}

/// Splits a directive line into words, keeping `(...)` and `[...]` groups whole.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    for c in line.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            _ => {}
        }
        if c.is_whitespace() && depth == 0 {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn parse_arg(word: &str) -> Arg {
    let Some((key, val)) = word.split_once('=') else {
        return Arg {
            key: word.to_string(),
            vals: Vec::new(),
        };
    };
    let vals = if let Some(inner) = val.strip_prefix('(').and_then(|v| v.strip_suffix(')')) {
        inner.split(',').map(|s| s.trim().to_string()).collect()
    } else if let Some(inner) = val.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        vec![inner.to_string()]
    } else {
        vec![val.to_string()]
    };
    Arg {
        key: key.to_string(),
        vals,
    }
}

/// The expected output starting at `lines[i]`: up to a blank line, or between a doubled
/// separator pair. Returns it with the index of the line after it.
fn read_output(lines: &[&str], mut i: usize, pos: &str) -> (String, usize) {
    let mut expected = String::new();
    if lines.get(i) == Some(&"----") {
        i += 1;
        loop {
            assert!(
                i < lines.len(),
                "{pos}: output has no closing `----` `----`"
            );
            if lines[i] == "----" && lines.get(i + 1) == Some(&"----") {
                return (expected, i + 2);
            }
            expected.push_str(lines[i]);
            expected.push('\n');
            i += 1;
        }
    }
    while i < lines.len() && !lines[i].trim().is_empty() {
        expected.push_str(lines[i]);
        expected.push('\n');
        i += 1;
    }
    (expected, i)
}

fn parse(text: &str, file: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() || line.starts_with('#') {
            blocks.push(Block::Verbatim(format!("{line}\n")));
            i += 1;
            continue;
        }
        // The directive, then input lines up to the separator.
        let start = i;
        let mut ws = words(line).into_iter();
        let cmd = ws.next().expect("non-empty line has a word");
        let args = ws.map(|w| parse_arg(&w)).collect();
        let mut header = format!("{line}\n");
        let mut input = String::new();
        i += 1;
        while i < lines.len() && lines[i] != "----" {
            input.push_str(lines[i]);
            input.push('\n');
            header.push_str(lines[i]);
            header.push('\n');
            i += 1;
        }
        assert!(
            i < lines.len(),
            "{file}:{}: `{cmd}` has no `----` separator",
            start + 1
        );
        header.push_str("----\n");
        i += 1;
        let expected;
        (expected, i) = read_output(&lines, i, &format!("{file}:{}", start + 1));
        // The blank line that ends a case belongs to it.
        if i < lines.len() && lines[i].trim().is_empty() {
            i += 1;
        }
        blocks.push(Block::Case {
            data: TestData {
                pos: format!("{file}:{}", start + 1),
                cmd,
                args,
                input,
            },
            header,
            expected,
        });
    }
    blocks
}

/// Output as it is stored: newline-terminated unless empty.
fn normalize(mut s: String) -> String {
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// A line diff (longest common subsequence; test outputs are small), `-` expected, `+` actual.
pub fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            let _ = writeln!(out, "  {}", a[i]);
            (i, j) = (i + 1, j + 1);
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] > lcs[i + 1][j]) {
            let _ = writeln!(out, "+ {}", b[j]);
            j += 1;
        } else {
            let _ = writeln!(out, "- {}", a[i]);
            i += 1;
        }
    }
    out
}

/// Names the case being run when its command panics (an assertion of the harness, a bad argument).
struct PanicContext<'a>(&'a str);

impl Drop for PanicContext<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("(while running the case at {})", self.0);
        }
    }
}

/// Whether `REWRITE` asks for expected outputs to be regenerated.
pub fn rewrite_requested() -> bool {
    std::env::var("REWRITE").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Runs every case of the file at `path` through `run` and compares (or, with `REWRITE=1`,
/// rewrites) the outputs. Panics listing every case whose output differs, with a diff.
pub fn run_file(path: &Path, mut run: impl FnMut(&TestData) -> String) {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let name = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string()
        .trim_start_matches('/')
        .to_string();
    let rewrite = rewrite_requested();
    let mut rewritten = String::new();
    let mut failures = String::new();
    let mut cases = 0;
    for block in parse(&text, &name) {
        match block {
            Block::Verbatim(s) => rewritten.push_str(&s),
            Block::Case {
                data,
                header,
                expected,
            } => {
                cases += 1;
                let guard = PanicContext(&data.pos);
                let actual = normalize(run(&data));
                std::mem::forget(guard);
                rewritten.push_str(&header);
                if actual.lines().any(|l| l.trim().is_empty()) || actual.starts_with("----") {
                    let _ = write!(rewritten, "----\n{actual}----\n----\n\n");
                } else {
                    let _ = writeln!(rewritten, "{actual}");
                }
                if actual != expected {
                    let _ = write!(
                        failures,
                        "\n{}: output of `{}` differs (- expected, + actual):\n{}",
                        data.pos,
                        header.lines().next().unwrap_or_default(),
                        diff(&expected, &actual)
                    );
                }
            }
        }
    }
    assert!(cases > 0, "{name} has no test cases");
    // One trailing newline at the end of the file, however many blank lines the rewrite left.
    let rewritten = format!("{}\n", rewritten.trim_end());
    if rewrite {
        if rewritten != text {
            std::fs::write(path, rewritten)
                .unwrap_or_else(|e| panic!("cannot rewrite {}: {e}", path.display()));
        }
        return;
    }
    assert!(
        failures.is_empty(),
        "{name}: outputs differ; if the change is intended, regenerate with \
         `REWRITE=1 cargo test --test suite` and review the diff{failures}"
    );
}

/// The `.txt` files directly in `dir`, sorted.
pub fn files_in(dir: &Path, ext: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
}

#[test]
fn parses_cases_args_and_double_separators() {
    let text = "# comment\n\ncmd 1 a=2 b=(x, y) c=[free text]\nin\n----\nout\n\nmulti\n----\n----\none\n\ntwo\n----\n----\n\nempty\n----\n";
    let blocks = parse(text, "t.txt");
    let cases: Vec<(&TestData, &String)> = blocks
        .iter()
        .filter_map(|b| match b {
            Block::Case { data, expected, .. } => Some((data, expected)),
            Block::Verbatim(_) => None,
        })
        .collect();
    assert_eq!(cases.len(), 3);
    let (d, e) = cases[0];
    assert_eq!((d.pos.as_str(), d.cmd.as_str()), ("t.txt:3", "cmd"));
    assert_eq!(d.positional(), vec!["1"]);
    assert_eq!(d.scan_or("a", 0u32), 2);
    assert_eq!(d.vals("b").unwrap(), ["x", "y"]);
    assert_eq!(d.vals("c").unwrap(), ["free text"]);
    assert_eq!((d.input.as_str(), e.as_str()), ("in\n", "out\n"));
    assert_eq!(cases[1].1, "one\n\ntwo\n");
    assert_eq!(cases[2].1, "");
    assert_eq!(diff("a\nb\n", "a\nc\n"), "  a\n- b\n+ c\n");
}
