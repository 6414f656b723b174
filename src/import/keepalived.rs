//! `keepalived.conf` as kubeadm's HA guide writes it: a `vrrp_script` checking the API server
//! (`interval`, `fall`, `rise`, `weight`) and a `vrrp_instance` (`state`, `priority`, `advert_int`)
//! holding the VIP. One file per load balancer host; each gives that host's priority. Comments (`!`
//! or `#`) and blank lines are skipped.

use super::{error, Authority, Imported, Source};
use crate::engine::{fmt_duration_exact, parse_duration};
use crate::scenario::error::ScenarioError;
use serde_json::Value;

/// A statement: its words with their columns and, for a block, the statements inside its braces.
struct Stmt {
    line: usize,
    words: Vec<String>,
    /// The 1-based column (in characters) of each word.
    cols: Vec<usize>,
    body: Vec<Stmt>,
}

impl Stmt {
    /// Where word `i` is: its column, or just past the last word when the statement has no word `i`
    /// (a value missing at the end of the line).
    fn at(&self, i: usize) -> (usize, usize) {
        let col = match (self.cols.get(i), self.cols.last(), self.words.last()) {
            (Some(&c), _, _) => c,
            (None, Some(&c), Some(w)) => c + w.chars().count() + 1,
            (None, _, _) => 1,
        };
        (self.line, col)
    }
}

/// A word of the file: its line, its 1-based column in characters, and its text.
type Token = (usize, usize, String);

/// Splits the text into words with their lines and columns; `{` and `}` are words of their own, and
/// every line ends with a `"\n"` word.
fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let code = raw.split(['!', '#']).next().unwrap_or_default();
        // The word being read and the column it started at.
        let mut word: Option<(usize, String)> = None;
        let mut quoted = false;
        for (k, c) in code.chars().enumerate() {
            let col = k + 1;
            match c {
                '"' => {
                    quoted = !quoted;
                    word.get_or_insert_with(|| (col, String::new()));
                }
                '{' | '}' if !quoted => {
                    // An empty quoted word ("") is no word, as before columns were kept.
                    if let Some((at, w)) = word.take().filter(|(_, w)| !w.is_empty()) {
                        out.push((line, at, w));
                    }
                    out.push((line, col, c.to_string()));
                }
                c if c.is_whitespace() && !quoted => {
                    // An empty quoted word ("") is no word, as before columns were kept.
                    if let Some((at, w)) = word.take().filter(|(_, w)| !w.is_empty()) {
                        out.push((line, at, w));
                    }
                }
                c => word.get_or_insert_with(|| (col, String::new())).1.push(c),
            }
        }
        if let Some((at, w)) = word.filter(|(_, w)| !w.is_empty()) {
            out.push((line, at, w));
        }
        out.push((line, code.chars().count() + 1, "\n".into()));
    }
    out
}

/// Statements until a closing brace (or the end at depth 0).
fn block(
    toks: &[Token],
    at: &mut usize,
    depth: usize,
    file: &str,
) -> Result<Vec<Stmt>, ScenarioError> {
    let mut out = Vec::new();
    let mut cur: Option<Stmt> = None;
    while *at < toks.len() {
        let (line, col, w) = &toks[*at];
        let pos = Some((*line, *col));
        *at += 1;
        match w.as_str() {
            "\n" => out.extend(cur.take()),
            "{" => {
                let mut s = cur
                    .take()
                    .ok_or_else(|| error(file, pos, "`{` without a name before it".into()))?;
                s.body = block(toks, at, depth + 1, file)?;
                out.push(s);
            }
            "}" if depth == 0 => return Err(error(file, pos, "`}` without a matching `{`".into())),
            "}" => {
                out.extend(cur.take());
                return Ok(out);
            }
            _ => {
                let s = cur.get_or_insert_with(|| Stmt {
                    line: *line,
                    words: Vec::new(),
                    cols: Vec::new(),
                    body: Vec::new(),
                });
                s.words.push(w.clone());
                s.cols.push(*col);
            }
        }
    }
    if depth > 0 {
        // At the end of the last line: where the missing `}` would go.
        let end = toks.last().map(|t| (t.0, t.1));
        return Err(error(
            file,
            end,
            "the file ends inside a block: a `}` is missing".into(),
        ));
    }
    out.extend(cur);
    Ok(out)
}

fn src(file: &str, s: &Stmt) -> Source {
    Source::at(file, s.at(0), s.words.join(" "))
}

/// The source of a statement's value (its second word), so that an error about the value points
/// at it.
fn value_src(file: &str, s: &Stmt) -> Source {
    Source::at(file, s.at(1), s.words.join(" "))
}

/// keepalived's times: seconds, fractions allowed (`advert_int 0.5`).
fn seconds(s: &Stmt, file: &str) -> Result<Value, ScenarioError> {
    s.words
        .get(1)
        .and_then(|t| parse_duration(&format!("{t}s")).ok())
        .map(|ns| Value::String(fmt_duration_exact(ns)))
        .ok_or_else(|| {
            error(
                file,
                Some(s.at(1)),
                format!("`{}`: expected a number of seconds", s.words.join(" ")),
            )
        })
}

fn int(s: &Stmt, file: &str) -> Result<i64, ScenarioError> {
    s.words.get(1).and_then(|t| t.parse().ok()).ok_or_else(|| {
        error(
            file,
            Some(s.at(1)),
            format!("`{}`: expected a whole number", s.words.join(" ")),
        )
    })
}

/// keepalived's own defaults for what a `vrrp_script` leaves out (keepalived.conf(5)): `interval`
/// 1 s, `fall` 1, `rise` 1, `weight` 0 (FAULT while the script fails). The scenario's defaults are
/// kubeadm's script's (3 s, 10, 2, -2), which a file without those lines does not run.
const SCRIPT_DEFAULTS: [(&str, &str, &str); 4] = [
    (
        "interval",
        "settings.load_balancer.vrrp_script_interval",
        "1s",
    ),
    ("fall", "settings.load_balancer.vrrp_script_fall", "1"),
    ("rise", "settings.load_balancer.vrrp_script_rise", "1"),
    ("weight", "settings.load_balancer.vrrp_script_weight", "0"),
];

fn script(b: &Stmt, file: &str, imp: &mut Imported) -> Result<(), ScenarioError> {
    for (word, path, default) in SCRIPT_DEFAULTS {
        if b.body.iter().all(|s| s.words[0] != word) {
            let value = if word == "interval" {
                Value::from(default)
            } else {
                Value::from(default.parse::<i64>().expect("a whole number"))
            };
            let from = Source::new(
                file,
                Some(b.at(0).0),
                format!(
                    "{}: no `{word}`, keepalived's default {default}",
                    b.words.join(" ")
                ),
            );
            imp.set(path, value, from, Authority::Config);
        }
    }
    for s in &b.body {
        let path = match s.words[0].as_str() {
            "interval" => Some((
                "settings.load_balancer.vrrp_script_interval",
                seconds(s, file)?,
            )),
            "fall" => Some((
                "settings.load_balancer.vrrp_script_fall",
                Value::from(int(s, file)?),
            )),
            "rise" => Some((
                "settings.load_balancer.vrrp_script_rise",
                Value::from(int(s, file)?),
            )),
            "weight" => Some((
                "settings.load_balancer.vrrp_script_weight",
                Value::from(int(s, file)?),
            )),
            _ => None,
        };
        match path {
            Some((p, v)) => imp.set(p, v, value_src(file, s), Authority::Config),
            None => imp.not_imported(&src(file, s), "the model's check script asks the API server through the local HAProxy, as kubeadm's check_apiserver.sh does"),
        }
    }
    Ok(())
}

fn instance(b: &Stmt, file: &str, imp: &mut Imported) -> Result<(), ScenarioError> {
    let mut priority = None;
    let mut master = false;
    for s in &b.body {
        match s.words[0].as_str() {
            "priority" => {
                let p = int(s, file)?;
                let p = u32::try_from(p).map_err(|_| {
                    error(
                        file,
                        Some(s.at(1)),
                        format!("priority {p} is out of range; keepalived priorities are 1 to 254"),
                    )
                })?;
                priority = Some((p, value_src(file, s)));
            }
            "state" => master = s.words.get(1).is_some_and(|w| w == "MASTER"),
            "advert_int" => imp.set(
                "settings.load_balancer.vrrp_advert_interval",
                seconds(s, file)?,
                value_src(file, s),
                Authority::Config,
            ),
            "track_script" => {}
            _ => imp.not_imported(
                &src(file, s),
                "not modelled: the VIP, interfaces and authentication are the model's own",
            ),
        }
    }
    let (p, source) = priority.ok_or_else(|| error(file, Some(b.at(0)), "the vrrp_instance has no `priority`; each load balancer's priority decides which holds the VIP".into()))?;
    imp.facts.keepalived.push((p, master, source));
    Ok(())
}

/// Reads a keepalived.conf.
pub fn read(text: &str, file: &str, imp: &mut Imported) -> Result<(), ScenarioError> {
    let toks = tokens(text);
    let stmts = block(&toks, &mut 0, 0, file)?;
    let before = imp.facts.keepalived.len();
    for s in &stmts {
        match s.words[0].as_str() {
            "vrrp_script" => script(s, file, imp)?,
            "vrrp_instance" if imp.facts.keepalived.len() > before => imp.not_imported(
                &src(file, s),
                "a second VRRP instance: the model has one VIP",
            ),
            "vrrp_instance" => instance(s, file, imp)?,
            "global_defs" => {}
            _ => imp.not_imported(&src(file, s), "not modelled"),
        }
    }
    if imp.facts.keepalived.len() == before {
        return Err(error(file, None, "no vrrp_instance; keepalived.conf needs the VRRP instance that holds the API servers' VIP".into()));
    }
    Ok(())
}
