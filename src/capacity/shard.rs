//! A plan split across machines: `plan FILE --shard I/N --shard-out FILE` measures every N-th of the
//! plan's detailed runs (numbered as one machine would do them: every design's transition runs in
//! plan order, then the `--brute-force` runs), and `merge FILE...` puts the shards' samples back in
//! that order and writes the plan's report exactly as one machine would, to the byte.
//!
//! The cheap part, the failure process of every design, is simulated again by the merge from the plan
//! file (the same checkout, as a check merge re-reads its scenarios); only the detailed runs travel in
//! the shard files. A fingerprint of those runs (every scenario, change time and seed) guards against
//! merging shards of different plans, seeds or `--years`, or of a plan file edited in between.

use super::brute::RunAvailability;
use super::costs::Sample;
use crate::check::shard::Shard;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a plan shard file says it is, so that a merge refuses anything else.
pub const KIND: &str = "kube-ha-sim plan shard";
/// The plan shard file format.
const SCHEMA: u32 = 1;

/// What identifies a plan's runs: shards of different plans must not be merged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanIdentity {
    /// The plan file as the shard was given it, from which `merge` reads the plan again.
    pub file: String,
    /// The plan's name.
    pub name: String,
    /// The seed (the file's or `--seed`).
    pub seed: u64,
    /// The cluster-years (the file's or `--years`).
    pub years: u64,
    /// `--brute-force RUNS` (0 without it).
    pub brute_force: usize,
    /// `--shared-warmups`: the runs' seeds are shared per design and sample (absent in shard files
    /// written before the option: false).
    #[serde(default)]
    pub shared_warmups: bool,
    /// How many detailed transition runs the plan has.
    pub transition_runs: usize,
    /// How many brute-force runs it has.
    pub brute_force_runs: usize,
    /// [`super::Work::fingerprint`] and [`super::brute::fingerprint`], combined.
    pub fingerprint: u64,
}

impl PlanIdentity {
    /// All runs of the plan: transition runs first, then brute-force runs.
    pub fn runs(&self) -> usize {
        self.transition_runs + self.brute_force_runs
    }
}

/// One measured run as a shard file holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Measured {
    /// A transition run's sample.
    Transition {
        down_end: Vec<bool>,
        cost_s: Vec<f64>,
        present: Vec<bool>,
    },
    /// A brute-force run's availability per capability.
    BruteForce(Vec<Option<f64>>),
}

/// A plan shard's output file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanShardFile {
    kind: String,
    schema: u32,
    /// This shard.
    pub shard: usize,
    /// Of how many.
    pub shards: usize,
    /// The plan it is a part of.
    pub identity: PlanIdentity,
    /// Run index (in single-machine order) → what it measured.
    runs: BTreeMap<usize, Measured>,
}

/// All the runs of a plan, put back together from its shards.
pub struct Combined {
    /// The plan the shards are of.
    pub identity: PlanIdentity,
    /// Every transition run's sample, in task order.
    pub samples: Vec<Sample>,
    /// Every brute-force run's availabilities, in task order.
    pub brute_force: Vec<RunAvailability>,
}

impl PlanShardFile {
    /// The shard file of `shard`: `samples` and `brute` are the runs it measured, by run index (brute
    /// force runs numbered after the transition runs).
    pub fn new(
        shard: Shard,
        identity: PlanIdentity,
        samples: &[(usize, Sample)],
        brute: &[(usize, RunAvailability)],
    ) -> PlanShardFile {
        let mut runs = BTreeMap::new();
        for (k, s) in samples {
            runs.insert(
                *k,
                Measured::Transition {
                    down_end: s.down_end.to_vec(),
                    cost_s: s.cost_s.to_vec(),
                    present: s.present.to_vec(),
                },
            );
        }
        for (k, a) in brute {
            runs.insert(*k, Measured::BruteForce(a.to_vec()));
        }
        PlanShardFile {
            kind: KIND.into(),
            schema: SCHEMA,
            shard: shard.index,
            shards: shard.count,
            identity,
            runs,
        }
    }

    /// How many runs it holds.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Reads a plan shard file; the error names the file and what is wrong.
    pub fn read(path: &Path) -> Result<PlanShardFile, String> {
        let text =
            std::fs::read(path).map_err(|e| format!("{}: cannot read it: {e}", path.display()))?;
        let f: PlanShardFile = serde_json::from_slice(&text).map_err(|e| {
            format!(
                "{}: not a shard file of `kube-ha-sim plan FILE --shard I/N --shard-out SHARD`: {e}",
                path.display()
            )
        })?;
        if f.kind != KIND || f.schema != SCHEMA {
            return Err(format!(
                "{}: not a plan shard file (kind {:?}, schema {}); expected {KIND:?}, schema {SCHEMA}",
                path.display(),
                f.kind,
                f.schema
            ));
        }
        Ok(f)
    }
}

/// Whether `path` is a plan shard file (they begin with their kind), so that `check` leaves shards
/// written beside the scenarios out of its walk and `merge` knows which merge to do.
pub fn is_plan_shard_file(path: &Path) -> bool {
    use std::io::Read as _;
    let prefix = format!("{{\"kind\":\"{KIND}\"");
    let mut head = vec![0u8; prefix.len()];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head == prefix.as_bytes())
}

/// A run of the wrong sort, or with arrays of the wrong width: the file was not written by this
/// version's shard.
fn bad_run(path: &Path, k: usize) -> String {
    format!(
        "{}: field `runs.{k}`: not a run this plan has (a transition run's sample or a brute-force run's \
         availabilities, by run index); was the shard written by another version?",
        path.display()
    )
}

/// How the identity `a` (of a shard cut in `na`) differs from `b` (cut in `nb`), field by field.
fn differences(a: &PlanIdentity, na: usize, b: &PlanIdentity, nb: usize) -> String {
    let mut out = Vec::new();
    let mut diff = |field: &str, x: String, y: String| {
        if x != y {
            out.push(format!("{field} {x} against {y}"));
        }
    };
    diff("plan file", a.file.clone(), b.file.clone());
    diff("plan", a.name.clone(), b.name.clone());
    diff("seed", a.seed.to_string(), b.seed.to_string());
    diff("years", a.years.to_string(), b.years.to_string());
    diff(
        "--brute-force",
        a.brute_force.to_string(),
        b.brute_force.to_string(),
    );
    diff("shard count", na.to_string(), nb.to_string());
    if out.is_empty() {
        // Same options, other runs: the plan file was edited between the shards.
        out.push(format!(
            "the plan's runs differ (fingerprint {:016x} against {:016x}): the plan file changed between the shards",
            a.fingerprint, b.fingerprint
        ));
    }
    out.join(", ")
}

/// Puts plan shard files together: they must be shards 1..N of one plan, each once, and together
/// hold every run once.
pub fn combine(files: Vec<(PathBuf, PlanShardFile)>) -> Result<Combined, String> {
    let Some((first_path, first)) = files.first() else {
        return Err("merge needs the shard files of one plan".into());
    };
    let (identity, shards) = (first.identity.clone(), first.shards);
    let first_path = first_path.clone();
    let mut seen = vec![false; shards];
    let mut samples: Vec<Option<Sample>> = vec![None; identity.transition_runs];
    let mut brute: Vec<Option<RunAvailability>> = vec![None; identity.brute_force_runs];
    for (path, f) in files {
        if f.identity != identity || f.shards != shards {
            return Err(format!(
                "{}: field `identity`: a shard of another plan than {}: {}",
                path.display(),
                first_path.display(),
                differences(&f.identity, f.shards, &identity, shards)
            ));
        }
        if f.shard == 0 || f.shard > shards || std::mem::replace(&mut seen[f.shard - 1], true) {
            return Err(format!(
                "{}: field `shard`: shard {}/{} is given twice or is out of range",
                path.display(),
                f.shard,
                shards
            ));
        }
        for (k, m) in f.runs {
            let fresh = match m {
                Measured::Transition {
                    down_end,
                    cost_s,
                    present,
                } if k < identity.transition_runs => {
                    let sample = Sample {
                        down_end: down_end.try_into().map_err(|_| bad_run(&path, k))?,
                        cost_s: cost_s.try_into().map_err(|_| bad_run(&path, k))?,
                        present: present.try_into().map_err(|_| bad_run(&path, k))?,
                    };
                    samples[k].replace(sample).is_none()
                }
                Measured::BruteForce(a)
                    if (identity.transition_runs..identity.runs()).contains(&k) =>
                {
                    let a: RunAvailability = a.try_into().map_err(|_| bad_run(&path, k))?;
                    brute[k - identity.transition_runs].replace(a).is_none()
                }
                Measured::Transition { .. } | Measured::BruteForce(_) => {
                    return Err(bad_run(&path, k))
                }
            };
            if !fresh {
                return Err(format!("{}: run {k} is in two shards", path.display()));
            }
        }
    }
    let missing: Vec<String> = (1..=shards)
        .filter(|i| !seen[i - 1])
        .map(|i| format!("{i}/{shards}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "missing shard(s) {} of plan {} ({})",
            missing.join(", "),
            identity.name,
            identity.file
        ));
    }
    let samples: Option<Vec<Sample>> = samples.into_iter().collect();
    let brute_force: Option<Vec<RunAvailability>> = brute.into_iter().collect();
    match (samples, brute_force) {
        (Some(samples), Some(brute_force)) => Ok(Combined {
            identity,
            samples,
            brute_force,
        }),
        _ => Err(format!(
            "the shards do not hold all of the plan's {} runs (a shard file was edited?)",
            identity.runs()
        )),
    }
}
