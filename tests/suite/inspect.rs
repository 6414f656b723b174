//! `kube-ha-sim inspect`: the training views in healthy, degraded (cp-1 crashed) and no-quorum
//! (cp-1 and cp-2 crashed) states. The full transcripts are golden files in `testdata/inspect/`
//! (`NAME@T.txt`; `REWRITE=1 cargo test --test suite inspect::` regenerates them, review the diff);
//! the tests beside them assert what each state must show, so a wrong golden cannot pass unseen.

use kube_ha_sim::engine::{parse_duration, SEC};
use kube_ha_sim::inspect::{print, transcript, Moment, Printed, Stream, View};
use kube_ha_sim::scenario::load_scenario;
use kube_ha_sim::world::World;
use std::path::Path;
use std::process::Command;

use crate::datadriven::{diff, rewrite_requested};

const DIR: &str = "testdata/inspect";

/// The moments with golden transcripts: (scenario, time).
const CASES: [(&str, &str); 4] = [
    ("healthy", "2m"),
    ("degraded", "2m30s"),
    ("no-quorum", "1m5s"),
    ("no-quorum", "2m"),
];

fn moment(name: &str, at: &str) -> Moment {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plan = load_scenario(&root.join(DIR).join(format!("{name}.json"))).unwrap();
    Moment::at(&plan, plan.seed, parse_duration(at).unwrap()).unwrap()
}

fn stdout(p: &Printed) -> Vec<&str> {
    lines(p, Stream::Stdout)
}

fn lines(p: &Printed, s: Stream) -> Vec<&str> {
    p.lines
        .iter()
        .filter(|(k, _)| *k == s)
        .map(|(_, l)| l.as_str())
        .collect()
}

/// The row of `name` in a kubectl table, split into columns.
fn row<'a>(p: &'a Printed, name: &str) -> Vec<&'a str> {
    stdout(p)
        .into_iter()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in {:?}", p.lines))
        .split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

#[test]
fn views_match_their_golden_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = String::new();
    for (name, at) in CASES {
        let text = format!(
            "kube-ha-sim inspect {DIR}/{name}.json --at {at}\n\n{}",
            transcript(&View::ALL, &moment(name, at))
        );
        let golden = root.join(DIR).join(format!("{name}@{at}.txt"));
        if rewrite_requested() {
            std::fs::write(&golden, &text).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if want != text {
            failures += &format!("{}:\n{}\n", golden.display(), diff(&want, &text));
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

#[test]
fn healthy_cluster_answers_every_tool() {
    let m = moment("healthy", "2m");
    for v in View::ALL {
        let p = print(v, &m);
        assert_eq!(p.exit_code, 0, "{}: {:?}", v.name(), p.lines);
        assert!(lines(&p, Stream::Stderr).is_empty(), "{}", v.name());
        assert_eq!(p.waited_ns, 0, "{}", v.name());
    }
    let nodes = print(View::Nodes, &m);
    for n in ["cp-1", "cp-2", "cp-3", "worker-1", "worker-2"] {
        assert_eq!(row(&nodes, n)[1], "Ready", "{n}");
    }
    assert_eq!(row(&nodes, "cp-1")[2], "control-plane");
    assert_eq!(row(&nodes, "worker-1")[2], "<none>");
    assert_eq!(
        row(&nodes, "cp-1")[3],
        "2m",
        "AGE of a node registered at the start"
    );
    let health = print(View::EndpointHealth, &m);
    assert_eq!(stdout(&health).len(), 3);
    assert!(stdout(&health)
        .iter()
        .all(|l| l.contains("is healthy: successfully committed proposal: took = ")));
    // Exactly one member leads in endpoint status.
    let status = print(View::EndpointStatus, &m);
    let leaders = stdout(&status)
        .iter()
        .filter(|l| l.contains("|      true |"))
        .count();
    assert_eq!(leaders, 1, "{:?}", status.lines);
}

#[test]
fn lease_holders_are_the_acting_leaders_with_a_stable_identity() {
    let m = moment("healthy", "2m");
    let leases = print(View::Leases, &m);
    for (lease, kind) in [
        ("kube-scheduler", "kube-scheduler"),
        ("kube-controller-manager", "kube-controller-manager"),
    ] {
        let holder = row(&leases, lease)[1].to_string();
        let (host, uuid) = holder.split_once('_').expect("<host>_<uuid>");
        assert_eq!(uuid.len(), 36, "{holder}");
        assert_eq!(&uuid[14..15], "4", "a version-4 uuid: {holder}");
        // The holder's host runs the instance of that component that is acting.
        let w: &World = m.world();
        let acting: Vec<String> = (0..w.layout().procs.len())
            .filter(|&p| w.layout().procs[p].name.ends_with(kind) && w.acting(p))
            .map(|p| w.layout().procs[p].name.clone())
            .collect();
        assert_eq!(acting, vec![format!("{host}/{kind}")], "{lease}");
    }
    // The same seed gives the same identity; another seed another.
    let again = print(View::Leases, &moment("healthy", "2m"));
    assert_eq!(leases.lines, again.lines);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plan = load_scenario(&root.join(DIR).join("healthy.json")).unwrap();
    let other = Moment::at(&plan, plan.seed + 1, 120 * SEC).unwrap();
    assert_ne!(print(View::Leases, &other).lines, leases.lines);
}

#[test]
fn a_crashed_node_turns_not_ready_after_the_grace_period_and_its_member_unhealthy() {
    // cp-1 crashed at 1m: the node lifecycle controller marks it NotReady after the 50 s grace
    // period (node-monitor-grace-period), not before.
    let before = moment("degraded", "1m20s");
    assert_eq!(row(&print(View::Nodes, &before), "cp-1")[1], "Ready");
    let m = moment("degraded", "2m30s");
    let nodes = print(View::Nodes, &m);
    assert_eq!(row(&nodes, "cp-1")[1], "NotReady");
    assert_eq!(row(&nodes, "cp-2")[1], "Ready");
    // Its static pods are no longer ready; cp-2's scheduler crashed once for 20 s and was
    // restarted: one restart, counted from the trace.
    let pods = print(View::Pods, &m);
    assert_eq!(row(&pods, "kube-apiserver-cp-1")[1], "0/1");
    assert_eq!(row(&pods, "kube-scheduler-cp-3")[3], "0");
    assert!(
        row(&pods, "kube-scheduler-cp-2")[3].starts_with("1 ("),
        "{:?}",
        row(&pods, "kube-scheduler-cp-2")
    );
    // The `kubernetes` Service drops cp-1's API server (lease reconciler TTL).
    let eps = print(View::Endpoints, &m);
    assert!(!row(&eps, "kubernetes")[1].contains("10.0.1.1:"));
    // etcdctl: cp-1's member is unhealthy on stderr after the command timeout, the others
    // healthy on stdout, then `Error: unhealthy cluster` and exit 1.
    let h = print(View::EndpointHealth, &m);
    assert_eq!(h.exit_code, 1);
    assert_eq!(h.waited_ns, 5 * SEC);
    assert_eq!(
        lines(&h, Stream::Stderr),
        vec![
            "https://10.0.1.1:2379 is unhealthy: failed to commit proposal: context deadline exceeded",
            "Error: unhealthy cluster"
        ]
    );
    assert_eq!(stdout(&h).len(), 2);
    // HAProxy marked cp-1 DOWN after a timed-out check.
    let stat = print(View::Haproxy, &m);
    let cp1 = stdout(&stat)
        .into_iter()
        .find(|l| l.starts_with("apiserverbackend,cp-1,"))
        .unwrap();
    assert!(cp1.contains(",DOWN,") && cp1.contains(",L4TOUT,"), "{cp1}");
}

#[test]
fn without_quorum_kubectl_times_out_then_gets_eof_and_etcdctl_gives_up() {
    // Right after the loss, HAProxy still sends requests to cp-3, whose API server cannot read
    // from etcd: kube-apiserver answers 504 after its 1m request timeout.
    let m = moment("no-quorum", "1m5s");
    let nodes = print(View::Nodes, &m);
    assert_eq!(nodes.exit_code, 1);
    assert!(nodes.waited_ns >= 60 * SEC);
    assert_eq!(
        lines(&nodes, Stream::Stderr),
        vec!["Error from server (Timeout): the server was unable to return a response in the time allotted, but may still be processing the request (get nodes)"]
    );
    // Once HAProxy has marked every backend DOWN (cp-3's /healthz fails its etcd check), it
    // closes the connection it cannot place.
    let later = moment("no-quorum", "2m");
    assert_eq!(
        lines(&print(View::Pods, &later), Stream::Stderr),
        vec!["Unable to connect to the server: EOF"]
    );
    for v in [View::Members, View::EndpointStatus, View::EndpointHealth] {
        let p = print(v, &later);
        assert_eq!(p.exit_code, 1, "{}", v.name());
        assert_eq!(p.waited_ns, 5 * SEC, "{}", v.name());
        let err = lines(&p, Stream::Stderr);
        assert!(
            err.last().unwrap().ends_with("context deadline exceeded"),
            "{}: {err:?}",
            v.name()
        );
    }
}

#[test]
fn the_world_stopped_at_t_has_the_full_runs_trace_up_to_t() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plan = load_scenario(&root.join(DIR).join("degraded.json")).unwrap();
    let full = kube_ha_sim::run::run(&plan, plan.seed).unwrap();
    let at = 95 * SEC;
    let m = Moment::at(&plan, plan.seed, at).unwrap();
    let upto: Vec<_> = full
        .trace
        .events
        .iter()
        .filter(|e| e.time_ns <= at)
        .collect();
    let got: Vec<_> = m.world().trace().events.iter().collect();
    assert!(!got.is_empty());
    assert_eq!(got, upto);
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kube-ha-sim"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

#[test]
fn the_command_line_splits_streams_and_refuses_bad_input() {
    let out = bin()
        .args([
            "inspect",
            "testdata/inspect/degraded.json",
            "--at",
            "2m30s",
            "--view",
            "endpoint-health",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        so.starts_with("$ etcdctl endpoint health --cluster\n"),
        "{so}"
    );
    assert!(so.contains("is healthy"), "{so}");
    assert!(se.ends_with("Error: unhealthy cluster\n"), "{se}");
    for (args, want) in [
        (
            vec!["--at", "6m"],
            "error: testdata/inspect/healthy.json: --at 6m is after the end of the run (duration 5m); allowed: 0s to 5m\n",
        ),
        (
            vec!["--at", "2m", "--view", "nodes,podz"],
            "error: --view: unknown view `podz` (did you mean `pods`?); allowed: nodes, pods, leases, describe-lease-kube-scheduler, describe-lease-kube-controller-manager, endpoints, endpointslices, members, endpoint-status, endpoint-health, alarms, haproxy\n",
        ),
        (
            vec!["--at", "2"],
            "error: testdata/inspect/healthy.json: --at: \"2\" has no unit; durations need one of ns, us, ms, s, m, h (e.g. \"2s\")\n",
        ),
    ] {
        let out = bin()
            .args(["inspect", "testdata/inspect/healthy.json"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), want, "{args:?}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn restarts_count_process_starts_not_readiness_changes() {
    // An API server turns ready after its start (unready -> up): that is no restart. A scheduler that
    // crashes for 10 s and starts again has restarted once (it read 2 for every API server before).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(DIR).join("healthy.json"))
        .unwrap()
        .replace(
            r#""workloads""#,
            r#""faults": [{"at": "60s", "kind": "crash", "target": "cp-2/kube-scheduler", "for": "10s"}], "workloads""#,
        );
    let plan =
        kube_ha_sim::scenario::parse_scenario(&text, "restarts.json").expect("the variant parses");
    let m = Moment::at(&plan, plan.seed, parse_duration("3m").unwrap()).unwrap();
    let pods = print(View::Pods, &m);
    assert_eq!(
        row(&pods, "kube-apiserver-cp-1")[3],
        "0",
        "{:?}",
        pods.lines
    );
    let restarted = row(&pods, "kube-scheduler-cp-2");
    assert!(restarted[3].starts_with("1 ("), "{restarted:?}");
}

#[test]
fn endpoint_slices_keep_a_dead_nodes_pods_that_endpoints_drop() {
    // worker-1 dies at 1m: 50 s later the node lifecycle controller marks it NotReady and its pods
    // not ready; the Endpoints lose them, the EndpointSlice keeps them (with ready=false, which the
    // table does not print) until they are evicted 300 s later.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(DIR).join("degraded.json"))
        .unwrap()
        .replace(
            r#""faults": [ "#,
            r#""faults": [ { "at": "1m", "kind": "crash", "target": "worker-1" }, "#,
        );
    let plan = kube_ha_sim::scenario::parse_scenario(&text, "w.json").expect("the variant parses");
    let at = |t: &str| Moment::at(&plan, plan.seed, parse_duration(t).unwrap()).unwrap();
    let worker1_pods = |s: &str| s.matches("10.244.5.").count();
    let before = at("50s");
    let slices = print(View::EndpointSlices, &before);
    assert_eq!(
        stdout(&slices)[0],
        "NAME         ADDRESSTYPE   PORTS   ENDPOINTS                                         AGE"
    );
    let web = row(&slices, "web-2ckxd");
    assert_eq!(web[1..3], ["IPv4", "8080"]);
    assert!(web[3].ends_with(" + 1 more..."), "{web:?}");
    assert_eq!(
        row(&slices, "kubernetes")[1..4],
        ["IPv4", "6443", "10.0.1.1,10.0.1.2,10.0.1.3"]
    );
    let eps = row(&print(View::Endpoints, &before), "web")[1].to_string();
    let in_slice = row(&slices, "web-2ckxd")[3].to_string();
    assert!(
        worker1_pods(&eps) > 0 && worker1_pods(&in_slice) > 0,
        "{eps} / {in_slice}"
    );
    let after = at("2m30s");
    let eps = row(&print(View::Endpoints, &after), "web")[1].to_string();
    assert_eq!(
        worker1_pods(&eps),
        0,
        "Endpoints list ready pods only: {eps}"
    );
    let slices = print(View::EndpointSlices, &after);
    assert_eq!(
        row(&slices, "web-2ckxd")[3],
        in_slice,
        "the slice keeps the not-ready pods"
    );
    // cp-1's API server left the `kubernetes` slice as it left the Endpoints.
    assert_eq!(row(&slices, "kubernetes")[3], "10.0.1.2,10.0.1.3");
    // `lab` takes the command line, with or without the default namespace spelled out.
    for line in [
        "kubectl get endpointslices",
        "kubectl get endpointslices -n default",
        "kubectl  get endpointslices --namespace default",
    ] {
        assert_eq!(
            View::from_command(line),
            Some(View::EndpointSlices),
            "{line}"
        );
    }
    assert_eq!(
        View::from_command("kubectl get endpointslices -n kube-system"),
        None
    );
}

/// The value of a `Field:  value` line of `kubectl describe`.
fn field<'a>(p: &'a Printed, name: &str) -> &'a str {
    stdout(p)
        .into_iter()
        .find_map(|l| l.trim_start().strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {:?}", p.lines))
        .trim()
}

#[test]
fn describe_lease_shows_the_records_holder_and_times_on_the_wall_clock() {
    let m = moment("healthy", "2m");
    let d = print(View::DescribeSchedulerLease, &m);
    assert_eq!(d.exit_code, 0, "{:?}", d.lines);
    let holder = row(&print(View::Leases, &m), "kube-scheduler")[1].to_string();
    assert_eq!(field(&d, "Holder Identity"), holder);
    assert_eq!(field(&d, "Name"), "kube-scheduler");
    assert_eq!(field(&d, "Lease Duration Seconds"), "15");
    assert_eq!(field(&d, "Lease Transitions"), "0");
    // Renewed every 2 s (retry period): the last renewal is within a few seconds before 2m, on the
    // wall clock that starts at 2026-01-01T00:00:00Z, in MicroTime's six-digit layout.
    let renew = field(&d, "Renew Time");
    assert!(
        renew.len() == 27 && renew.as_bytes()[19] == b'.' && renew.ends_with('Z'),
        "{renew}"
    );
    assert!(
        ("2026-01-01T00:01:55".."2026-01-01T00:02:00.000001").contains(&renew),
        "{renew}"
    );
    let acquire = field(&d, "Acquire Time");
    assert!(
        acquire < renew && acquire.starts_with("2026-01-01T00:00:"),
        "{acquire}"
    );
    // Aligned as Go's tabwriter does it for describe: the Spec block to its widest label plus 2.
    assert!(
        stdout(&d).contains(&"  Lease Duration Seconds:  15"),
        "{:?}",
        d.lines
    );
    assert!(stdout(&d).contains(&format!("  Holder Identity:         {holder}").as_str()));
    // One LeaderElection event, naming the same identity.
    let events: Vec<&str> = stdout(&d)
        .into_iter()
        .filter(|l| l.contains("LeaderElection"))
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].starts_with("  Normal  LeaderElection  "),
        "{events:?}"
    );
    assert!(
        events[0].ends_with(&format!("default-scheduler  {holder} became leader")),
        "{events:?}"
    );

    // The active scheduler dies at 60 s: a new holder, one transition, two events (oldest first),
    // and an Acquire Time after the old lease expired (15 s after its last renewal).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(DIR).join("healthy.json"))
        .unwrap()
        .replace(
            r#""workloads""#,
            r#""faults": [{"at": "60s", "kind": "crash", "target": "leader:kube-scheduler", "for": "10s"}], "workloads""#,
        );
    let plan = kube_ha_sim::scenario::parse_scenario(&text, "s.json").expect("the variant parses");
    let m = Moment::at(&plan, plan.seed, parse_duration("2m").unwrap()).unwrap();
    let d = print(View::DescribeSchedulerLease, &m);
    let new_holder = field(&d, "Holder Identity");
    assert_ne!(new_holder, holder);
    assert_eq!(field(&d, "Lease Transitions"), "1");
    assert!(
        field(&d, "Acquire Time") > "2026-01-01T00:01:10",
        "{:?}",
        d.lines
    );
    let events: Vec<&str> = stdout(&d)
        .into_iter()
        .filter(|l| l.contains("LeaderElection"))
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events[0].ends_with(&format!("{holder} became leader")),
        "{events:?}"
    );
    assert!(
        events[1].ends_with(&format!("{new_holder} became leader")),
        "{events:?}"
    );
    // `lab` takes the command line.
    assert_eq!(
        View::from_command("kubectl describe lease kube-controller-manager -n kube-system"),
        Some(View::DescribeControllerManagerLease)
    );
}

#[test]
fn describe_lease_without_quorum_times_out_like_any_get() {
    let m = moment("no-quorum", "1m5s");
    let d = print(View::DescribeControllerManagerLease, &m);
    assert_eq!(d.exit_code, 1);
    assert_eq!(
        lines(&d, Stream::Stderr),
        vec!["Error from server (Timeout): the server was unable to return a response in the time allotted, but may still be processing the request (get leases.coordination.k8s.io kube-controller-manager)"]
    );
}

/// kube-apiserver's READY column is its readiness probe (`/readyz`, which runs the `etcd` check):
/// a stacked node whose etcd member died still runs its API server, but not ready. The library's
/// `stacked-etcd-leader-crash` kills cp-3's member at 2 m (seed 7).
#[test]
fn an_api_server_whose_etcd_member_died_runs_but_is_not_ready() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plan = load_scenario(&root.join("scenarios/stacked-etcd-leader-crash.json")).unwrap();
    let at = |t: &str| Moment::at(&plan, plan.seed, parse_duration(t).unwrap()).unwrap();
    let before = print(View::Pods, &at("1m50s"));
    assert_eq!(
        row(&before, "kube-apiserver-cp-3")[1..3],
        ["1/1", "Running"]
    );
    let after = print(View::Pods, &at("2m30s"));
    assert_eq!(row(&after, "etcd-cp-3")[1], "0/1");
    assert_eq!(row(&after, "kube-apiserver-cp-3")[1..3], ["0/1", "Running"]);
    assert_eq!(row(&after, "kube-apiserver-cp-1")[1..3], ["1/1", "Running"]);
}

/// `etcdctl alarm list` prints each NOSPACE alarm raised, the member's ID in decimal (the ID `member
/// list` prints in hexadecimal), `endpoint status` lists the alarm in ERRORS (wrapped), and the
/// `alarm-disarm` fault's etcdctl line names the same IDs; once disarmed, the list is empty.
#[test]
fn alarm_list_shows_a_full_quota_until_it_is_disarmed() {
    let text = r#"{"name":"quota-alarms","duration":"12m",
        "topology":{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]},
        "settings":{"etcd":{"quota_backend_bytes":262144,"bytes_per_revision":1024}},
        "load":{"requests_per_second":20,"write_ratio":0.5},
        "faults":[{"at":"10m30s","kind":"defrag","target":"cp-1"},
                  {"at":"10m31s","kind":"defrag","target":"cp-2"},
                  {"at":"10m32s","kind":"defrag","target":"cp-3"},
                  {"at":"11m","kind":"alarm-disarm"}]}"#;
    let plan = kube_ha_sim::scenario::parse_scenario(text, "quota-alarms.json").unwrap();
    let full = Moment::at(&plan, 1, 5 * 60 * SEC).unwrap();
    let listed = print(View::Alarms, &full);
    assert_eq!(listed.exit_code, 0);
    let alarms: Vec<String> = stdout(&listed).iter().map(|l| l.to_string()).collect();
    assert!(!alarms.is_empty(), "the quota is full by 5m: {listed:?}");
    let members = stdout(&print(View::Members, &full)).join("\n");
    let status = stdout(&print(View::EndpointStatus, &full)).join("\n");
    for line in &alarms {
        let id = line
            .strip_prefix("memberID:")
            .and_then(|r| r.strip_suffix(" alarm:NOSPACE "))
            .unwrap_or_else(|| panic!("not an AlarmMember: {line}"));
        let hex = format!("{:x}", id.parse::<u64>().expect("a decimal member ID"));
        assert!(
            members.contains(&hex),
            "{hex} not in the member list:\n{members}"
        );
        // ERRORS wraps at 30 columns (tablewriter), after each member ID.
        assert!(
            status.contains(&format!("memberID:{id} |")),
            "memberID:{id} not in ERRORS:\n{status}"
        );
    }
    assert!(status.contains("alarm:NOSPACE"));
    // Every member applied the disarm by 11m2s (capacity.rs); writes fill the quota again later.
    let disarmed = Moment::at(&plan, 1, 11 * 60 * SEC + 3 * SEC).unwrap();
    let after = print(View::Alarms, &disarmed);
    assert!(stdout(&after).is_empty(), "{after:?}");
    assert!(!stdout(&print(View::EndpointStatus, &disarmed))
        .join("\n")
        .contains("alarm:NOSPACE"));
    let said: Vec<String> = disarmed
        .world()
        .trace()
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            kube_ha_sim::observe::TraceKind::Log { text, .. } => text
                .strip_prefix("etcdctl alarm disarm: ")
                .map(str::to_string),
            _ => None,
        })
        .collect();
    assert_eq!(said, alarms, "etcdctl names the alarms the list showed");
}
