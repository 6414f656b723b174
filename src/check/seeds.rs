//! Which seeds a check runs each scenario with: the file's own seed, an inclusive range (`--seeds 1..200`)
//! or a number of seeds derived from the file's seed (`--seeds 50`).

use crate::engine::rng::stream;
use rand::RngCore;
use std::fmt;

/// The most seeds one `--seeds` option may ask for, so that a typo (`1..2000000000`) is an error rather
/// than a run that never ends.
pub const MAX_SEEDS: u64 = 10_000;

/// The random stream (of the scenario's seed) from which derived sweep seeds are drawn; distinct from every
/// component's stream id so that the sweep seeds do not echo the run's own draws.
const SWEEP_STREAM: u64 = 0x5eed_5eed_5eed_5eed;

/// The seeds to run each scenario with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum SeedSpec {
    /// The seed written in each scenario file (no `--seeds`).
    #[default]
    FromFile,
    /// Every seed from `start` to `end`, both included (`--seeds 1..200`).
    Range {
        /// The first seed.
        start: u64,
        /// The last seed (included).
        end: u64,
    },
    /// `count` seeds derived deterministically from each scenario's own seed (`--seeds 50`): the file's
    /// seed first, then distinct seeds drawn from a ChaCha stream keyed by it.
    Derived {
        /// How many seeds.
        count: u64,
    },
}

impl SeedSpec {
    /// Parses the text of `--seeds`: `A..B` (inclusive; `A..=B` is accepted too) or a count `N`.
    pub fn parse(text: &str) -> Result<SeedSpec, String> {
        let t = text.trim();
        let allowed =
            "expected an inclusive range START..END (e.g. 1..200) or a number of seeds N (e.g. 50)";
        let num = |s: &str, what: &str| -> Result<u64, String> {
            let s = s.trim();
            s.parse::<u64>().map_err(|_| {
                if s.is_empty() {
                    format!("--seeds {text:?}: the {what} is missing; {allowed}")
                } else {
                    format!(
                        "--seeds {text:?}: {s:?} is not a whole number 0..={}; {allowed}",
                        u64::MAX
                    )
                }
            })
        };
        if let Some((a, b)) = t.split_once("..") {
            let b = b.strip_prefix('=').unwrap_or(b);
            let start = num(a, "start")?;
            let end = num(b, "end")?;
            if end < start {
                return Err(format!(
                    "--seeds {text:?}: the range is empty ({end} < {start}); write START..END with START <= END, both included"
                ));
            }
            if end - start >= MAX_SEEDS {
                return Err(format!(
                    "--seeds {text:?}: {} seeds is more than the {MAX_SEEDS} allowed",
                    (end - start) as u128 + 1
                ));
            }
            Ok(SeedSpec::Range { start, end })
        } else {
            let count = num(t, "number of seeds")?;
            if count == 0 {
                return Err(format!(
                    "--seeds {text:?}: at least one seed is needed; {allowed}"
                ));
            }
            if count > MAX_SEEDS {
                return Err(format!(
                    "--seeds {text:?}: {count} seeds is more than the {MAX_SEEDS} allowed"
                ));
            }
            Ok(SeedSpec::Derived { count })
        }
    }

    /// True when more than one seed may run per scenario (the output then shows sweep statistics).
    pub fn is_sweep(&self) -> bool {
        !matches!(self, SeedSpec::FromFile)
    }

    /// The seeds for a scenario whose file says `file_seed`, in the order they are reported.
    pub fn seeds(&self, file_seed: u64) -> Vec<u64> {
        match *self {
            SeedSpec::FromFile => vec![file_seed],
            SeedSpec::Range { start, end } => (start..=end).collect(),
            SeedSpec::Derived { count } => derive_seeds(file_seed, count),
        }
    }
}

impl fmt::Display for SeedSpec {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            SeedSpec::FromFile => f.write_str("the file's seed"),
            SeedSpec::Range { start, end } => write!(f, "{start}..{end}"),
            SeedSpec::Derived { count } => write!(f, "{count}"),
        }
    }
}

/// `count` distinct seeds: `file_seed` first, then 32-bit seeds (short enough to type in a replay command)
/// drawn from the ChaCha stream of `file_seed`. The same inputs always give the same seeds.
pub fn derive_seeds(file_seed: u64, count: u64) -> Vec<u64> {
    let count = count.min(MAX_SEEDS) as usize;
    let mut out = Vec::with_capacity(count);
    let mut seen = std::collections::BTreeSet::new();
    if count == 0 {
        return out;
    }
    out.push(file_seed);
    seen.insert(file_seed);
    let mut rng = stream(file_seed, SWEEP_STREAM);
    while out.len() < count {
        let s = u64::from(rng.next_u32());
        if seen.insert(s) {
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges_and_counts() {
        assert_eq!(
            SeedSpec::parse("1..200"),
            Ok(SeedSpec::Range { start: 1, end: 200 })
        );
        assert_eq!(
            SeedSpec::parse(" 3..=3 "),
            Ok(SeedSpec::Range { start: 3, end: 3 })
        );
        assert_eq!(SeedSpec::parse("50"), Ok(SeedSpec::Derived { count: 50 }));
        assert_eq!(SeedSpec::Range { start: 1, end: 3 }.seeds(9), vec![1, 2, 3]);
    }

    #[test]
    fn rejects_bad_input_with_a_clear_message() {
        for bad in [
            "5..1",
            "x",
            "",
            "0",
            "1..",
            "..3",
            "1..x",
            "-1",
            "1.5",
            "1..1000000",
            "999999999",
        ] {
            let e = SeedSpec::parse(bad).expect_err(bad);
            assert!(e.starts_with("--seeds"), "{bad}: {e}");
        }
        assert!(SeedSpec::parse("5..1").unwrap_err().contains("empty"));
    }

    #[test]
    fn derived_seeds_are_deterministic_distinct_and_start_with_the_file_seed() {
        let a = derive_seeds(7, 100);
        assert_eq!(a, derive_seeds(7, 100));
        assert_eq!(a[0], 7);
        assert_eq!(a.len(), 100);
        let set: std::collections::BTreeSet<_> = a.iter().collect();
        assert_eq!(set.len(), 100);
        assert_ne!(derive_seeds(8, 5), derive_seeds(7, 5));
        // A shorter sweep is a prefix of a longer one: widening a sweep keeps the seeds already seen.
        assert_eq!(&a[..10], &derive_seeds(7, 10)[..]);
    }
}
