//! A fuzz harness for the scenario loader, run as a bounded proptest: the library's scenario files with
//! random mutations (cut, spliced, duplicated, characters and extreme numbers inserted) go through
//! `parse_scenario`. It must never panic, and every rejection must name the file and say something.
//! `FUZZ_CASES=200000 cargo test --release --test suite loader_fuzz` runs a long campaign.

use kube_ha_sim::scenario::parse_scenario;
use proptest::prelude::*;

/// The library's scenario texts, the seeds of every mutation.
fn corpus() -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir("scenarios")
        .expect("the scenario library")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

/// Pieces worth inserting: JSON punctuation, odd strings, extreme numbers, units, names.
const PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "\\u",
    "\\ud800",
    "null",
    "true",
    "-",
    "1e400",
    "-1",
    "0",
    "4294967296",
    "18446744073709551616",
    "0.0000001",
    "NaN",
    "\"1ns\"",
    "\"999h\"",
    "\"\"",
    "\u{feff}",
    "\u{0}",
    "é",
    "\"cp-99\"",
    "\"zone:\"",
    "\"leader:etcd\"",
    "\"../x\"",
    "\"kind\": \"restore\"",
    "\"for\": \"0s\"",
    "\"window\": [\"1s\"]",
    "//",
    "\n",
];

fn mutate(text: &str, ops: &[(u8, usize, usize, usize)]) -> String {
    let mut s: Vec<char> = text.chars().collect();
    for &(op, a, b, piece) in ops {
        let n = s.len().max(1);
        let (i, j) = (a % n, b % n);
        let (lo, hi) = (i.min(j), i.max(j).min(s.len()));
        match op % 4 {
            0 => {
                s.drain(lo..hi.min(lo + 40));
            }
            1 => {
                let p: Vec<char> = PIECES[piece % PIECES.len()].chars().collect();
                let at = lo.min(s.len());
                s.splice(at..at, p);
            }
            2 => {
                let dup: Vec<char> = s[lo..hi.min(lo + 200)].to_vec();
                let at = hi.min(s.len());
                s.splice(at..at, dup);
            }
            _ => s.truncate(lo),
        }
    }
    s.into_iter().collect()
}

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_loader_never_panics_and_every_error_names_the_file(
        which in any::<usize>(),
        ops in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<usize>(), any::<usize>()), 1..6),
    ) {
        let corpus = corpus();
        let text = mutate(&corpus[which % corpus.len()], &ops);
        let result = std::panic::catch_unwind(|| parse_scenario(&text, "fuzz.json").map(|_| ()));
        prop_assert!(result.is_ok(), "the loader panicked on:\n{text}");
        if let Ok(Err(e)) = result {
            let shown = e.to_string();
            prop_assert!(shown.starts_with("fuzz.json"), "{shown}");
            prop_assert!(!e.message.is_empty());
        }
    }
}
