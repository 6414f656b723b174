//! A check split across machines: `check --shard I/N --shard-out FILE` runs every N-th run of the
//! check (runs are numbered as one machine would run them: the scenarios in path order, each one's seeds
//! in turn; shard I takes runs I-1, I-1+N, ...) and writes what each produced; `merge FILE...` puts the
//! shards together and judges them exactly as one machine would, to the byte.
//!
//! A shard file holds the runs, not verdicts: each run's metrics (full precision; non-finite values as
//! strings), its expectation values and verdicts, steady state, trace hash and errors. The merge loads the
//! scenario files again (the same checkout), so baselines, JUnit and the summary come from the same code
//! as a single-machine check.

use super::{CheckOptions, SeedRun};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a shard file says it is, so that a merge refuses anything else.
const KIND: &str = "kube-ha-sim check shard";
/// The shard file format.
const SCHEMA: u32 = 1;

/// One shard of N: `--shard I/N`, I from 1 to N.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: usize,
    /// How many shards.
    pub count: usize,
}

impl Shard {
    /// Parses `I/N` with 1 <= I <= N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || {
            format!(
                "--shard {text:?}: expected I/N with 1 <= I <= N, e.g. 1/4 (in a Kubernetes Indexed Job: \
                 $((JOB_COMPLETION_INDEX + 1))/N)"
            )
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether run `k` (0-based, in single-machine order) is this shard's.
    pub fn owns(&self, k: usize) -> bool {
        k % self.count == self.index - 1
    }
}

/// A number that may be NaN or infinite (JSON has no such numbers).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Num {
    Finite(f64),
    Other(NonFinite),
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
enum NonFinite {
    #[serde(rename = "NaN")]
    Nan,
    #[serde(rename = "inf")]
    Inf,
    #[serde(rename = "-inf")]
    NegInf,
}

impl From<f64> for Num {
    fn from(v: f64) -> Num {
        if v.is_finite() {
            Num::Finite(v)
        } else if v.is_nan() {
            Num::Other(NonFinite::Nan)
        } else if v > 0.0 {
            Num::Other(NonFinite::Inf)
        } else {
            Num::Other(NonFinite::NegInf)
        }
    }
}

impl From<Num> for f64 {
    fn from(n: Num) -> f64 {
        match n {
            Num::Finite(v) => v,
            Num::Other(NonFinite::Nan) => f64::NAN,
            Num::Other(NonFinite::Inf) => f64::INFINITY,
            Num::Other(NonFinite::NegInf) => f64::NEG_INFINITY,
        }
    }
}

/// One run as a shard file holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct RunRecord {
    task: usize,
    seed: u64,
    metrics: BTreeMap<String, Num>,
    verdicts: Vec<(Option<Num>, bool)>,
    steady: bool,
    trace_hash: u64,
    time_s: f64,
    error: Option<String>,
    nondeterminism: Option<String>,
}

impl RunRecord {
    fn of(task: usize, r: &SeedRun) -> RunRecord {
        RunRecord {
            task,
            seed: r.seed,
            metrics: r
                .metrics
                .iter()
                .map(|(k, &v)| (k.clone(), v.into()))
                .collect(),
            verdicts: r
                .verdicts
                .iter()
                .map(|&(a, p)| (a.map(Num::from), p))
                .collect(),
            steady: r.steady,
            trace_hash: r.trace_hash,
            time_s: r.time_s,
            error: r.error.clone(),
            nondeterminism: r.nondeterminism.clone(),
        }
    }

    fn into_run(self) -> (usize, SeedRun) {
        let run = SeedRun {
            seed: self.seed,
            metrics: self
                .metrics
                .into_iter()
                .map(|(k, v)| (k, v.into()))
                .collect(),
            verdicts: self
                .verdicts
                .into_iter()
                .map(|(a, p)| (a.map(f64::from), p))
                .collect(),
            steady: self.steady,
            trace_hash: self.trace_hash,
            time_s: self.time_s,
            error: self.error,
            nondeterminism: self.nondeterminism,
        };
        (self.task, run)
    }
}

/// What identifies a check: shards of different checks must not be merged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckIdentity {
    /// The paths the check was given (files and folders), from which `merge` finds the files again.
    pub paths: Vec<String>,
    /// The scenario files found, in run order.
    pub files: Vec<String>,
    /// The seeds.
    pub seeds: super::seeds::SeedSpec,
    /// `--twice`.
    pub twice: bool,
    /// How many runs the whole check has.
    pub runs: usize,
}

/// A shard's output file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardFile {
    kind: String,
    schema: u32,
    /// This shard.
    pub shard: usize,
    /// Of how many.
    pub shards: usize,
    /// The check it is a part of.
    pub identity: CheckIdentity,
    runs: Vec<RunRecord>,
}

impl ShardFile {
    /// A shard file for `shard` of the check `identity`, from its runs (task index, run).
    pub fn new(shard: Shard, identity: CheckIdentity, runs: &[(usize, SeedRun)]) -> ShardFile {
        ShardFile {
            kind: KIND.into(),
            schema: SCHEMA,
            shard: shard.index,
            shards: shard.count,
            identity,
            runs: runs.iter().map(|(k, r)| RunRecord::of(*k, r)).collect(),
        }
    }

    /// How many runs it holds.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Reads a shard file; the error names the file and what is wrong.
    pub fn read(path: &std::path::Path) -> Result<ShardFile, String> {
        let text =
            std::fs::read(path).map_err(|e| format!("{}: cannot read it: {e}", path.display()))?;
        let f: ShardFile = serde_json::from_slice(&text).map_err(|e| {
            format!(
                "{}: not a shard file of `kube-ha-sim check --shard I/N --shard-out FILE`: {e}",
                path.display()
            )
        })?;
        if f.kind != KIND || f.schema != SCHEMA {
            return Err(format!(
                "{}: not a shard file (kind {:?}, schema {}); expected {KIND:?}, schema {SCHEMA}",
                path.display(),
                f.kind,
                f.schema
            ));
        }
        Ok(f)
    }
}

/// Whether `path` is a shard file (they begin with their kind), so that `check` and `merge` do not take
/// shards written beside the scenarios for scenarios.
pub fn is_shard_file(path: &std::path::Path) -> bool {
    use std::io::Read as _;
    let prefix = format!("{{\"kind\":\"{KIND}\"");
    let mut head = vec![0u8; prefix.len()];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head == prefix.as_bytes())
}

/// Puts shard files together: they must be shards 1..N of one check, each once, and together hold
/// every run once. Returns the check's identity and its runs by task index.
pub fn combine(
    files: Vec<(std::path::PathBuf, ShardFile)>,
) -> Result<(CheckIdentity, BTreeMap<usize, SeedRun>), String> {
    let Some((first_path, first)) = files.first() else {
        return Err("merge needs the shard files of one check".into());
    };
    let (identity, shards) = (first.identity.clone(), first.shards);
    let first_path = first_path.clone();
    let mut seen = vec![false; shards];
    let mut runs = BTreeMap::new();
    for (path, f) in files {
        if f.identity != identity || f.shards != shards {
            return Err(format!(
                "{}: a shard of another check than {} (other scenario files, seeds, --twice or shard count)",
                path.display(),
                first_path.display()
            ));
        }
        if f.shard == 0 || f.shard > shards || std::mem::replace(&mut seen[f.shard - 1], true) {
            return Err(format!(
                "{}: shard {}/{} is given twice or is out of range",
                path.display(),
                f.shard,
                shards
            ));
        }
        for r in f.runs {
            let (k, run) = r.into_run();
            if k >= identity.runs || runs.insert(k, run).is_some() {
                return Err(format!(
                    "{}: run {k} is out of range or in two shards",
                    path.display()
                ));
            }
        }
    }
    let missing: Vec<String> = (1..=shards)
        .filter(|i| !seen[i - 1])
        .map(|i| format!("{i}/{shards}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing shard(s) {}", missing.join(", ")));
    }
    if runs.len() != identity.runs {
        return Err(format!(
            "the shards hold {} of the check's {} runs",
            runs.len(),
            identity.runs
        ));
    }
    Ok((identity, runs))
}

/// The options that decide which runs a check has, as a shard file records them.
pub fn identity(opts: &CheckOptions, files: &[std::path::PathBuf], runs: usize) -> CheckIdentity {
    CheckIdentity {
        paths: opts.paths.iter().map(|p| p.display().to_string()).collect(),
        files: files.iter().map(|f| f.display().to_string()).collect(),
        seeds: opts.seeds,
        twice: opts.twice,
        runs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_the_runs_and_parse_strictly() {
        let s = Shard::parse("2/3").unwrap();
        let owned: Vec<usize> = (0..7).filter(|&k| s.owns(k)).collect();
        assert_eq!(owned, [1, 4]);
        for bad in ["0/3", "4/3", "1/0", "1", "a/b", "1/3/4"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn non_finite_numbers_survive_the_file() {
        for v in [1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.1 + 0.2] {
            let text = serde_json::to_string(&Num::from(v)).unwrap();
            let back: f64 = serde_json::from_str::<Num>(&text).unwrap().into();
            assert!(
                back == v || (back.is_nan() && v.is_nan()),
                "{v} -> {text} -> {back}"
            );
        }
    }
}
