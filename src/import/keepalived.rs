//! `keepalived.conf` as kubeadm's HA guide writes it: a `vrrp_script` checking the API server
//! (`interval`, `fall`, `rise`, `weight`) and a `vrrp_instance` (`state`, `priority`, `advert_int`)
//! holding the VIP. One file per load balancer host; each gives that host's priority. Comments (`!`
//! or `#`) and blank lines are skipped.

use super::{error, Authority, Imported, Source};
use crate::engine::{fmt_duration_exact, parse_duration};
use crate::scenario::error::ScenarioError;
use serde_json::Value;

/// A statement: its words and, for a block, the statements inside its braces.
struct Stmt {
    line: usize,
    words: Vec<String>,
    body: Vec<Stmt>,
}

/// Splits the text into words with their lines; `{` and `}` are words of their own.
fn tokens(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let code = raw.split(['!', '#']).next().unwrap_or_default();
        let mut word = String::new();
        let mut quoted = false;
        for c in code.chars() {
            match c {
                '"' => quoted = !quoted,
                '{' | '}' if !quoted => {
                    if !word.is_empty() {
                        out.push((i + 1, std::mem::take(&mut word)));
                    }
                    out.push((i + 1, c.to_string()));
                }
                c if c.is_whitespace() && !quoted => {
                    if !word.is_empty() {
                        out.push((i + 1, std::mem::take(&mut word)));
                    }
                }
                c => word.push(c),
            }
        }
        if !word.is_empty() {
            out.push((i + 1, word));
        }
        out.push((i + 1, "\n".into()));
    }
    out
}

/// Statements until a closing brace (or the end at depth 0).
fn block(
    toks: &[(usize, String)],
    at: &mut usize,
    depth: usize,
    file: &str,
) -> Result<Vec<Stmt>, ScenarioError> {
    let mut out = Vec::new();
    let mut cur: Option<Stmt> = None;
    while *at < toks.len() {
        let (line, w) = &toks[*at];
        *at += 1;
        match w.as_str() {
            "\n" => out.extend(cur.take()),
            "{" => {
                let mut s = cur.take().ok_or_else(|| {
                    error(file, Some(*line), "`{` without a name before it".into())
                })?;
                s.body = block(toks, at, depth + 1, file)?;
                out.push(s);
            }
            "}" if depth == 0 => {
                return Err(error(
                    file,
                    Some(*line),
                    "`}` without a matching `{`".into(),
                ))
            }
            "}" => {
                out.extend(cur.take());
                return Ok(out);
            }
            _ => cur
                .get_or_insert_with(|| Stmt {
                    line: *line,
                    words: Vec::new(),
                    body: Vec::new(),
                })
                .words
                .push(w.clone()),
        }
    }
    if depth > 0 {
        let line = toks.last().map(|t| t.0);
        return Err(error(
            file,
            line,
            "the file ends inside a block: a `}` is missing".into(),
        ));
    }
    out.extend(cur);
    Ok(out)
}

fn src(file: &str, s: &Stmt) -> Source {
    Source::new(file, Some(s.line), s.words.join(" "))
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
                Some(s.line),
                format!("`{}`: expected a number of seconds", s.words.join(" ")),
            )
        })
}

fn int(s: &Stmt, file: &str) -> Result<i64, ScenarioError> {
    s.words.get(1).and_then(|t| t.parse().ok()).ok_or_else(|| {
        error(
            file,
            Some(s.line),
            format!("`{}`: expected a whole number", s.words.join(" ")),
        )
    })
}

fn script(b: &Stmt, file: &str, imp: &mut Imported) -> Result<(), ScenarioError> {
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
            Some((p, v)) => imp.set(p, v, src(file, s), Authority::Config),
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
                        Some(s.line),
                        format!("priority {p} is out of range; keepalived priorities are 1 to 254"),
                    )
                })?;
                priority = Some((p, src(file, s)));
            }
            "state" => master = s.words.get(1).is_some_and(|w| w == "MASTER"),
            "advert_int" => imp.set(
                "settings.load_balancer.vrrp_advert_interval",
                seconds(s, file)?,
                src(file, s),
                Authority::Config,
            ),
            "track_script" => {}
            _ => imp.not_imported(
                &src(file, s),
                "not modelled: the VIP, interfaces and authentication are the model's own",
            ),
        }
    }
    let (p, source) = priority.ok_or_else(|| error(file, Some(b.line), "the vrrp_instance has no `priority`; each load balancer's priority decides which holds the VIP".into()))?;
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
