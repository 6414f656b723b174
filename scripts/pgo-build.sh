#!/usr/bin/env bash
# Builds kube-ha-sim with profile-guided optimisation (PGO) into target/pgo/release/kube-ha-sim.
#
# Why: the engine's time is spread thinly over many small handlers (README, Performance), the kind of
# code whose branch layout and inlining a profile improves most. The binary computes exactly what the
# plain release build does (PGO changes code layout and inlining, never arithmetic): this script
# checks that on the scenario library before it reports success.
#
# Steps: an instrumented build; a training run of the main jobs on the built-in files (the scenario
# library under `check`, two seeds, and the stacked-vs-external capacity plan), not of the benchmark
# cases, so that `bench` measures a binary its cases did not train; the merged profile; the optimised
# build; and the check.
#
# Needs llvm-profdata from the toolchain's llvm-tools component (`rustup component add llvm-tools`);
# nothing else beyond `cargo build --release`. About 8 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

profdata="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-profdata"
if [ ! -x "$profdata" ]; then
  echo "pgo-build: llvm-profdata not found at $profdata; install it with: rustup component add llvm-tools" >&2
  exit 2
fi

work="$root/target/pgo-work"
rm -rf "$work"
mkdir -p "$work/raw"

echo "pgo-build: 1/4 instrumented build (target/pgo-gen)" >&2
RUSTFLAGS="-Cprofile-generate=$work/raw" CARGO_TARGET_DIR="$root/target/pgo-gen" \
  cargo build --release --quiet

echo "pgo-build: 2/4 training run: check scenarios --seeds 1..2; plan scenarios/plans/stacked-vs-external.json" >&2
# Their verdicts do not matter here (a failing expectation still exercises the model); a crash does.
status=0
"$root/target/pgo-gen/release/kube-ha-sim" check scenarios --seeds 1..2 >"$work/train.log" 2>&1 || status=$?
if [ "$status" -le 1 ]; then
  "$root/target/pgo-gen/release/kube-ha-sim" plan scenarios/plans/stacked-vs-external.json \
    --out "$work/plan" >>"$work/train.log" 2>&1 || status=$?
fi
if [ "$status" -gt 1 ]; then
  echo "pgo-build: the training run failed (exit $status); see $work/train.log" >&2
  exit 1
fi

echo "pgo-build: 3/4 merging the profile" >&2
"$profdata" merge -o "$work/merged.profdata" "$work/raw"

echo "pgo-build: 4/4 optimised build (target/pgo)" >&2
RUSTFLAGS="-Cprofile-use=$work/merged.profdata" CARGO_TARGET_DIR="$root/target/pgo" \
  cargo build --release --quiet

echo "pgo-build: checking the PGO binary against the reports/ baselines, exactly (--tolerance 0)" >&2
"$root/target/pgo/release/kube-ha-sim" check scenarios --baseline reports --tolerance 0 >"$work/verify.log" 2>&1 || {
  echo "pgo-build: the PGO binary disagrees with reports/ baselines; see $work/verify.log" >&2
  exit 1
}
echo "$root/target/pgo/release/kube-ha-sim"
