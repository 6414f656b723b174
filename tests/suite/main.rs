//! The one integration test crate (DESIGN.md item 11): every integration and property test is a
//! module here, so `cargo test` links the library into a single test binary instead of one per file.
//!
//! Run one area with a module filter, e.g. `cargo test --test suite raft_core::`.

mod common;

mod alerts;
mod capacity;
mod certs_and_clocks;
mod check_cli;
mod cli_bad_input;
mod clocks;
mod connections;
mod control_plane;
mod engine_shortcuts;
mod etcd_behaviour;
mod etcd_request_semantics;
mod etcd_snapshots;
mod exercises;
mod expectations;
mod failover_and_vip;
mod fork;
mod hardening;
mod import;
mod inspect;
mod invariants_prop;
mod junit_schema;
mod lab;
mod lazy_heartbeats;
mod load_off;
mod loader_fuzz;
mod membership;
mod observers;
mod plan;
mod raft_core;
mod relist_storm;
mod report_render;
mod scenario_validation;
mod service_endpoints;
mod settings_effect;
mod stalls;
mod static_pod_probes;
mod swarm;
mod tools;
mod workflow;
mod workloads;

mod datadriven;
mod raft_transcripts;
