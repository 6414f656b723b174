//! The scenario format reference printed by `kube-ha-sim help scenario`.
//!
//! Keep it in step with `model.rs` (fields and defaults) and `validate.rs` (the rules): the
//! `scenario_validation` tests check that every field is listed with its default. The fault table
//! is generated from the fault-kind table.

use super::faults::FaultKind;

/// The part of the reference before the fault table.
const HEAD: &str = r##"SCENARIO FILES

A scenario is one JSON object (or the same fields in YAML, in a `.yaml` or `.yml` file) describing
a cluster, a client load, scripted faults and the expectations the run must meet.
`kube-ha-sim validate FILE...` checks files without running them.

Errors name the file, the field path (e.g. `faults[1].target`), the line and column, and what is
allowed. Unknown fields are errors and the nearest known name is suggested. Every field except
`name`, `duration` and `topology` has a default; the defaults are the real components' defaults,
with the source each comes from.

DURATIONS
  Strings with a unit: ns, us, ms, s, m, h. Units combine and numbers may have decimals:
  "100ms", "1.5s", "1m30s", "2h". A number without a unit (10 or "10") is an error.

EXAMPLE
  {
    "name": "stacked-etcd-leader-crash",
    "duration": "10m",
    "topology": { "etcd": "stacked", "control_plane_nodes": 3, "workers": 3,
                  "zones": ["a", "b", "c"] },
    "workloads": [ { "name": "web", "replicas": 6 } ],
    "faults": [ { "at": "60s", "kind": "crash", "target": "leader:etcd", "for": "2m" } ],
    "expect": [ { "metric": "api.availability", "at_least": 0.99 } ]
  }

[top level]
  name                  string, required, not empty
  description           string, default ""
  seed                  whole number, default 1 (`run --seed N` overrides it); same seed, same run
  duration              duration, required: more than 0 and at most 876000h (100 years; long
                        runs are bounded by the resource guard instead)
  topology              object, required (below)
  settings              object, per-component overrides (below); default: all defaults
  load                  object, the clients' requests (below)
  workloads             list of workloads (below), at most 10000, default []
  faults                list of faults (below), default []
  expect                list of expectations (below), default []
  exercises             list of training questions for `kube-ha-sim exercise` (below), default [];
                        the run ignores them

[topology]
  etcd                  required: "stacked" (an etcd member on each control-plane node, kubeadm's
                        default) or "external" (dedicated etcd nodes)
  control_plane_nodes   required, 0 to 50
  etcd_nodes            0 to 9, default 0; only with "etcd": "external" (an error with stacked)
  workers               0 to 5000, default 0
  zones                 list of unique, non-empty zone names, default ["a"]
  load_balancers        0 to 16, default 1; with 2 or more, keepalived moves a VIP between them.
                        With load_balancer_placement "control-plane": omit it (one per
                        control-plane node) or give the number of control-plane nodes
  load_balancer_placement
                        where HAProxy and keepalived run, default "separate" (kubeadm
                        docs/ha-considerations.md, keepalived and haproxy):
                          "separate"       their own nodes lb-1..lb-K ("Option 1: run the
                                           services on the operating system", dedicated hosts)
                          "control-plane"  cp-N/haproxy and cp-N/keepalived on every
                                           control-plane node ("Option 2: run the services as
                                           static pods"); a control-plane node failure takes
                                           its HAProxy, and the VIP if it holds it, with it.
                                           Needs "endpoint": "load-balancer"
  endpoint              how clients reach the API, default "load-balancer":
                          "load-balancer"  through the load balancers (needs load_balancers >= 1)
                          "direct:NODE"    a kubeconfig pointed at one control-plane node, e.g.
                                           "direct:cp-1" (no load balancers are built)
  Even-sized and zero-sized clusters are allowed on purpose (2 or 4 etcd members tolerate no more
  failures than 1 or 3; with 0 there is no quorum at all). kubeadm recommends at least 3
  control-plane nodes and, for external etcd, 3 etcd nodes (kubernetes/website ha-topology.md).

NAMES
  Nodes        cp-1..cp-N (control plane), etcd-1..etcd-M (external etcd), lb-1..lb-K (load
               balancers, only with "endpoint": "load-balancer" and "load_balancer_placement":
               "separate"), worker-1..worker-W, and `client` (the load generator, outside the
               cluster). Nodes of each kind are placed over the zones in order: cp-1 in the
               first zone, cp-2 in the second, wrapping.
  Processes    NODE/PROCESS, PROCESS one of etcd, kube-apiserver, kube-controller-manager,
               kube-scheduler, kubelet, haproxy, keepalived. Control-plane nodes run
               kube-apiserver, kube-controller-manager, kube-scheduler, kubelet (and etcd when
               stacked); etcd nodes run etcd; load balancers run haproxy (and keepalived when
               there are 2 or more), on lb-N nodes or, with "load_balancer_placement":
               "control-plane", on the control-plane nodes; workers run kubelet.
  Zones        zone:NAME, every cluster node placed in that zone.
  Selectors    resolved when the fault fires:
                 leader:etcd                      the etcd leader (needs an etcd member)
                 follower:etcd                    the lowest-numbered member that is not the leader
                                                  (needs 2 or more members)
                 leader:kube-scheduler            the kube-scheduler holding its lease
                 leader:kube-controller-manager   the kube-controller-manager holding its lease
                                                  (these two need control-plane nodes)
                 vip-holder                       the node holding the VIP: an lb-N node, or a
                                                  control-plane node when the load balancers
                                                  run there (needs 2 or more load balancers)
  A node fault aimed at a process or selector applies to the node hosting it.

[settings]
  Overrides per component: etcd, kube_apiserver, leader_election, load_balancer, kubelet,
  node_lifecycle, network, nodes. Each section and each field is optional.

[settings.etcd]  etcd flags (etcd-io/website content/en/docs/v3.5/op-guide/configuration.md)
  heartbeat_interval             "100ms"  --heartbeat-interval; more than 0
  election_timeout               "1s"     --election-timeout (1000ms); at least 5 x
                                          heartbeat_interval and at most 50s (etcd's own checks);
                                          each election waits a whole number of ticks drawn
                                          uniformly in [1, 2) x this (etcd-io/raft)
  pre_vote                       true     --pre-vote, default since v3.5 (etcd PR #12770)
  check_quorum                   true     a leader that loses a quorum steps down
                                          (server/etcdserver/bootstrap.go)
  initial_election_tick_advance  true     --initial-election-tick-advance: a (re)started member
                                          fast-forwards its election ticks
  fsync_latency                  "1ms"    WAL fsync time of a healthy disk (etcd op-guide
                                          performance.md: an SSD's is often under 1ms; etcd
                                          asks for a p99 under 10ms)
  request_timeout                unset    server-side request timeout; unset means
                                          5s + 2 x election_timeout = 7s (server/config/config.go)
  snapshot_count                 10000    --snapshot-count (kubeadm's; etcd's default since v3.6):
                                          snapshot and compact the log after this many entries;
                                          at least 1
  snapshot_catchup_entries       5000     --snapshot-catchup-entries: entries kept before a
                                          snapshot for slow followers; one further behind gets
                                          the snapshot (4 KiB per key at 10 MB/s)
  quota_backend_bytes            2147483648  --quota-backend-bytes (2 GiB); past it the NOSPACE
                                          alarm refuses every Put ("etcdserver: mvcc: database
                                          space exceeded"), reads and deletes go on; 1024 to 2^40
  bytes_per_revision             1024     what a revision adds to the database (live keys and
                                          5-10 min of history, kube-apiserver compacting every
                                          5 m); 1 to 1572864; also a write's Raft entry size
  cores                          4        the member's cores (etcd op-guide/hardware.md: "two to
                                          four cores"); 1 to 1024
  cpu_per_read                   "40us"   CPU a Get or Range takes on the member serving it (a
                                          modelling choice under etcd's 185,000 reads/s on 8
                                          vCPUs); 0s (free) to 1s
  cpu_per_write                  "150us"  CPU applying a write takes on every member (under
                                          etcd's 50,000 writes/s on 8 vCPUs); 0s to 1s. Writes
                                          saturate at cores / cpu_per_write (26,667/s)
  peer_bandwidth_bytes_per_s     125000000  the leader's bandwidth to each follower (1 Gbit/s,
                                          hardware.md: "1GbE is sufficient"): an append takes
                                          bytes_per_revision a write over it; 0 (off) or 1000
                                          to 2^40

[settings.kube_apiserver]  (kubernetes/website command-line-tools-reference/kube-apiserver.md)
  request_timeout                "1m"     --request-timeout; more than 0
  etcd_healthcheck_timeout       "2s"     --etcd-healthcheck-timeout; more than 0
  etcd_readycheck_timeout        "2s"     --etcd-readycheck-timeout; more than 0
  shutdown_delay_duration        "0s"     --shutdown-delay-duration: /readyz fails this long
                                          before a graceful stop
  etcd_dial_timeout              "20s"    etcd client dial timeout (k8s.io/apiserver
                                          storagebackend/factory/etcd3.go); more than 0
  etcd_keepalive_time            "30s"    etcd client keepalive time (same file); more than 0
  etcd_keepalive_timeout         "10s"    etcd client keepalive timeout (same file); more than 0
  startup_time                   "5s"     from process start until it serves (static pod start)
  goaway_chance                  0        --goaway-chance: the chance that a response also sends
                                          GOAWAY, so the client's next request opens a new
                                          connection (rebalancing long-lived clients); 0 to 0.02
  max_requests_inflight          400      --max-requests-inflight; 1 to 100000
  max_mutating_requests_inflight 200      --max-mutating-requests-inflight; 1 to 100000. With
                                          APF the two sum to its 600 seats, shared by the
                                          priority levels as ceil(600 x shares / 245)
  enable_priority_and_fairness   true     --enable-priority-and-fairness; false: the
                                          max-in-flight filter (400 read-only, 200 mutating,
                                          429 at once, no queues)
  cores                          4        the API server's cores; 1 to 1024
  cpu_per_get                    "1ms"    CPU a GET takes (not the etcd round trip); 1us to 1s
  cpu_per_write                  "2ms"    CPU a write takes; 1us to 1s
  cpu_per_list_object            "20us"   CPU each object of a LIST adds; 0s to 1s

[settings.leader_election]  client-go leader election of kube-controller-manager and
kube-scheduler (k/k staging/src/k8s.io/component-base/config/v1alpha1/defaults.go)
  enabled                        true     --leader-elect
  lease_duration                 "15s"    --leader-elect-lease-duration
  renew_deadline                 "10s"    --leader-elect-renew-deadline
  retry_period                   "2s"     --leader-elect-retry-period; more than 0
                                          client-go requires lease_duration > renew_deadline >
                                          1.2 x retry_period (tools/leaderelection)
  api_endpoint                   "local"  "local": each talks to its own node's API server, as
                                          kubeadm sets it up; "load-balancer": the cluster endpoint
  release_on_cancel              true     a graceful stop releases the lease (ReleaseOnCancel);
                                          kube-scheduler only: kube-controller-manager never sets it

[settings.load_balancer]  HAProxy and keepalived (haproxy include/haproxy/defaults.h; kubeadm
docs/ha-considerations.md)
  check_path                     "/healthz"  health-check path (kubeadm: `option httpchk GET
                                             /healthz`); one of /healthz, /readyz, /livez
  check_interval                 "2s"     `inter` 2000ms; at least 1ms
  fall                           3        failed checks before a server is down; at least 1
  rise                           2        passed checks before it is up again; at least 1
  check_timeout                  "10s"    `timeout check` (kubeadm); more than 0
  connect_timeout                "5s"     `timeout connect` (kubeadm); more than 0
  retries                        1        connection retries (kubeadm's example; HAProxy's own is 3)
  redispatch                     true     `option redispatch`: the last retry may go elsewhere
  vrrp_advert_interval           "1s"     keepalived advert_int; at least 1s (VRRP version 2 counts
                                          whole seconds); a backup takes over after
                                          3 x advert + (256 - priority)/256 s
  vrrp_priorities                [101, 100]  priorities of lb-1, lb-2, ... (cp-1, cp-2, ... with
                                          the load balancers on the control plane); the last
                                          repeats for the rest; each 1 to 254
  vrrp_script_interval           "3s"     kubeadm's check_apiserver script interval; more than 0
  vrrp_script_fall               10       kubeadm's script fall; at least 1
  vrrp_script_rise               2        kubeadm's script rise; at least 1
  vrrp_script_weight             -2       kubeadm's script weight; -253 to 253; negative: counts
                                          while failing, positive: while succeeding, 0: FAULT

[settings.kubelet]  (k/k pkg/kubelet/apis/config/v1beta1/defaults.go)
  node_status_update_frequency   "10s"    nodeStatusUpdateFrequency; more than 0; with the lease
                                          duration, the heartbeats' timeout is the smaller
  node_lease_duration            "40s"    nodeLeaseDurationSeconds, at least 1s; renewed every 1/4
  max_pods                       110      maxPods; at least 1
  pod_startup_time               "5s"     from binding to ready (image present, start, probe)
  restart_backoff_initial        "10s"    container restart back-off start, doubling
                                          (k/k pkg/kubelet/kubelet.go)
  restart_backoff_max            "5m"     back-off cap; at least restart_backoff_initial
  apiserver_liveness_probe       true     kubeadm's probes of kube-apiserver: GET /livez (which
                                          runs the etcd check) every liveness_period, timeout
                                          15s, first after 10s; a startup probe (24 failures)
                                          until it passes, then liveness; the container is killed
                                          (30s grace) and restarted with the back-off
  etcd_probes                    true     kubeadm's probes of a stacked etcd member: liveness
                                          GET /livez (a serializable read: passes without
                                          quorum), startup GET /readyz (a linearizable read:
                                          a member started without quorum is killed after 24
                                          failures and crash-loops); same period and timeouts
  controller_probes              true     kubeadm's probes of kube-controller-manager and
                                          kube-scheduler: GET /healthz (10257, 10259), which a
                                          running process passes; one paused past the failure
                                          threshold is killed and restarted
  liveness_period                "10s"    the probes' periodSeconds
  liveness_failure_threshold     8        the liveness probe's failureThreshold; at least 1
  All durations must be more than 0.

[settings.node_lifecycle]  kube-controller-manager's node lifecycle controller
(k/k cmd/kube-controller-manager/app/options/nodelifecyclecontroller.go)
  node_monitor_period            "5s"     --node-monitor-period; more than 0
  node_monitor_grace_period      "50s"    --node-monitor-grace-period (40s before v1.32,
                                          k/k PR #126287); more than 0
  node_startup_grace_period      "1m"     --node-startup-grace-period; more than 0
  node_eviction_rate             0.1      --node-eviction-rate, nodes per second; 0 or more
  secondary_node_eviction_rate   0.01     --secondary-node-eviction-rate; 0 or more
  unhealthy_zone_threshold       0.55     --unhealthy-zone-threshold; more than 0, at most 1
  large_cluster_size_threshold   50       --large-cluster-size-threshold
  default_toleration             "5m"     DefaultTolerationSeconds admission (300s) for the
                                          not-ready and unreachable taints
  exclude_control_plane_from_disruption
                                 false    label control-plane nodes
                                          node.kubernetes.io/exclude-disruption so they do not
                                          count in zone disruption states (kubeadm does not)

[settings.network]  the simulated links
  local_latency                  "50us"   one-way, between processes of one node
  zone_latency                   "100us"  one-way, inside a zone (a 200us round trip; etcd
                                          op-guide: "as long as several hundred microseconds")
  cross_zone_latency             "1ms"    one-way, between zones
  jitter                         0.2      extra delay drawn in [0, jitter x latency]; 0 to 1
  loss                           0        probability that a packet between two nodes is lost;
                                          at least 0 and less than 1. Messages ride TCP, so a
                                          loss is retransmitted (200 ms, doubling) and holds
                                          up its connection (see degrade-link); cut links with
                                          partition or isolate

[settings.nodes]  the hosts' power-on and boot (see the README)
  boot_spread                    "10s"    the run starts as the nodes power on; each boots at
                                          an independent moment in [0, boot_spread], its
                                          processes start within 1 s after; 0 to 1h
  os_boot_time                   "30s"    a node powered back on (restart, end of a node crash)
                                          is off the network this long before its processes
                                          start (EC2: ~28 s to sshd); 0 to 1h

[settings.engine]  how the run is computed, not what it models
  shortcuts                      true     the engine's shortcuts for speed: a request's timeout
                                          that is cancelled (answered first) leaves the queue;
                                          false fires every timer as set; the report is
                                          byte-identical either way but for `events`
  lazy_heartbeats                true     while no fault is in force, an etcd leader's empty
                                          heartbeats to caught-up followers are stood in for,
                                          not sent (an idle cluster: a tenth of the events);
                                          same outcomes in distribution over seeds, not byte
                                          for byte; needs shortcuts

[load]  the clients' requests
  requests_per_second            10       0 to 100000; 0 is no load: `api` is then judged from
                                          the cluster's state along the endpoint path
  write_ratio                    0.5      share of writes, 0 to 1
  timeout                        "10s"    client-side timeout of one request; more than 0
  target                         "api"    "api": through topology.endpoint to the Kubernetes
                                          API; "etcd": straight to the etcd members as an etcd
                                          client (for etcd-only studies)
  connection                     "per-request"  "per-request": a new connection per request
                                          (kubectl); "long-lived": one HTTP/2 connection
                                          held across requests (a client-go controller),
                                          balanced once by HAProxy and closed only by
                                          client-go's health check (30 s idle + 15 s PING)
                                          or a reset
  api_via                        "endpoint"  "endpoint": through topology.endpoint (a client
                                          outside the cluster); "kubernetes-service": a pod
                                          on worker-1 using the in-cluster config, through
                                          its node's kube-proxy to the `kubernetes` Service,
                                          whose endpoints the API servers' lease reconciler
                                          keeps (10 s interval, 15 s TTL); needs a worker
  identity                       "user"   whose credentials the requests carry: "user" (a
                                          kubeconfig; APF level global-default, 49 seats) or
                                          "service-account" (a pod; workload-low, 245 seats)
  start                          "0s"     when the load begins (and the informers start);
                                          before the end of the run

[load.informers]  watch clients (operators' informers): LIST, then WATCH on the same
                  long-lived connection; a broken watch relists after client-go's reflector
                  back-off (0.8-1.6 s, doubling to 30 s, [30, 60) s at the cap, reset after
                  2 quiet minutes); an API server's host resets its watches when the process
                  dies (not when the node loses power); service account, APF workload-low
  count                          0        0 to 20000 informers, each its own connection
  objects                        500      0 to 1000000 objects each LIST returns; the API
                                          server's CPU for it is cpu_per_get + objects x
                                          cpu_per_list_object, its APF seats one per 100
                                          objects, 1 to 10 (the list work estimator)
  after_broken_watch             "relist" "relist": the back-off, then LIST and WATCH (the
                                          survivor lacks the resourceVersion, 410 Gone: the
                                          storm's upper bound); "rewatch": WATCH again at
                                          once from the resourceVersion, no LIST

[workloads[]]  Deployments whose pods the scheduler places and the controllers keep running
  name                           required; not empty, unique
  replicas                       required; 0 to 100000
  spread                         "none"   "none" (least-allocated node first), "zones" (a zone
                                          topology spread constraint, maxSkew 1) or "first-zone"
                                          (packed into the first zone)
  on_control_plane               false    whether the pods tolerate the control-plane taint

[faults[]]  scripted failures, in any order
  at                             required; from the start of the run, at most `duration`
  kind                           required; one of the kinds below
  for                            optional, more than 0: the fault is undone after that long;
                                 without it the fault lasts to the end of the run (or until a
                                 later fault undoes it). On restart and wipe-data there is
                                 nothing to undo.
  Each kind takes only its own fields; any other field is an error.

"##;

/// The part after the fault table.
const TAIL: &str = r##"
[expect[]]  bounds the run must meet (`run` and `check` exit 1 when one fails)
  metric                         required; a metric name below
  at_least | at_most | equals    a number; exactly one of the three per expectation (write
                                 two expectations for a range)
  window                         optional ["from", "to"]: measure the metric over that span of
                                 the run only (from < to <= duration)
  recovered_within               instead of a bound, with a capability as metric ("api"): after
                                 each fault ends (a restart, wipe-data or restore ends as it
                                 happens), the capability is up for good within this duration,
                                 before a later fault can have caused a new outage or a repair
                                 takes over; the actual value is CAPABILITY.recovery_s
  percentile                     optional, 0 to 100: under `check --seeds`, the bound applies to
                                 this percentile over the seeds instead of to every seed
  alert                          instead of `metric`: an alert name (ALERTS below), with
  fires_within                   a duration: the alert fires within it of the first fault's
                                 start (reads alert.NAME.detect_s), or
  never_fires                    true: the alert never fires (reads alert.NAME.firings)

METRICS
  For each capability C in api, etcd_quorum, scheduling, reconciliation, workloads:
    C.availability       fraction of the measured run it was up, 0 to 1
    C.downtime_s         seconds it was down
    C.longest_outage_s   longest single outage, seconds
    C.outages            number of outages
    C.recovery_s         worst time from a fault's end until C is up for good (when a fault ends)
  api                  a client request through the endpoint succeeds
  etcd_quorum          etcd has a leader that can commit (a quorum of members reachable)
  scheduling           a kube-scheduler holds a valid lease, is alive and reaches a writable API
  reconciliation       the same for kube-controller-manager
  workloads            every desired replica is ready and in the Service endpoints that users'
                       kube-proxies route to (needs workloads)
  Also: api.requests, api.failed_requests, api.latency_p50_ms, api.latency_p99_ms,
  etcd.leader_changes, etcd.elections, scheduler.leader_changes,
  controller_manager.leader_changes, scheduling.split_brain_s, reconciliation.split_brain_s
  (time with two acting leaders), workloads.ready_ratio (time-averaged),
  workload.NAME.ready_ratio (per declared workload), workloads.reachable_ratio and
  workload.NAME.reachable_ratio (time-averaged fraction of requests through the Service
  that reach a serving pod), data.acknowledged_writes_lost,
  invariants.violations, warmup_s, and leader_election.past_lease_actions (only with
  leader-election settings where retry_period + renew_deadline > lease_duration, which
  `validate` warns about: a leader may then act after a candidate took over).
  Metrics cover the run from the end of the warm-up (the first moment every capability is up,
  reported as warmup_s) to the end. workloads.* metrics need at least one workload.
"##;

/// A complete, readable reference of the scenario file format. The fault table is generated from the
/// fault-kind table ([`FaultKind`]), so a new kind appears here without an edit.
pub fn scenario_help() -> String {
    let mut out = String::from(HEAD);
    out.push_str(&fault_table());
    out.push_str(TAIL);
    out.push_str(&alert_help());
    out.push_str(&exercise_help());
    out
}

/// The alerts an expectation may name, listed from their table (`observe::alerts`).
fn alert_help() -> String {
    use crate::engine::fmt_duration;
    use crate::observe::alerts::{Alert, EVALUATION_INTERVAL_NS, SCRAPE_INTERVAL_NS};
    let mut out = format!(
        "\nALERTS  evaluated every {} on scrapes every {} from the end of the warm-up (kube-prometheus\n\
         \x20 defaults); metrics alert.NAME.firings, alert.NAME.firing_s, alert.NAME.detect_s\n",
        fmt_duration(EVALUATION_INTERVAL_NS),
        fmt_duration(SCRAPE_INTERVAL_NS)
    );
    for a in Alert::ALL {
        let d = a.def();
        out.push_str(&format!(
            "  {:<42}{:<9}for {}\n",
            d.name,
            d.severity,
            fmt_duration(d.for_ns)
        ));
    }
    out
}

/// The `exercises[]` reference, its questions and views listed from their declarations.
fn exercise_help() -> String {
    use super::training::{Question, View};
    let mut out = String::from(
        "\n[exercises[]]  questions `kube-ha-sim exercise FILE` asks, graded against the simulation\n\
         \x20 at                    required; the moment it is asked (a duration within the run)\n\
         \x20 ask                   required; one of the questions below\n\
         \x20 text                  optional; what the trainee reads first (the situation, a hint)\n\
         \x20 views                 optional; views shown at that moment first (as `inspect --view`)\n\
         \x20 tolerance             optional, for quorum-regained only: how far a time answer may be\n\
         \x20                       from the simulated one (default 5s)\n\
         QUESTIONS\n",
    );
    // One column for both lists, two spaces past the longest name (a view named after a lease is
    // longer than the questions).
    let w = Question::ALL
        .iter()
        .map(|q| q.name().len())
        .chain(View::ALL.iter().map(|v| v.name().len()))
        .max()
        .unwrap_or(0)
        + 2;
    for q in Question::ALL {
        out.push_str(&format!("  {:<w$}{}\n", q.name(), q.prompt()));
    }
    out.push_str("VIEWS\n");
    for v in View::ALL {
        out.push_str(&format!("  {:<w$}{}\n", v.name(), v.command()));
    }
    out
}

/// `kind  fields  effect`, each column wrapped to its width.
fn fault_table() -> String {
    const W: [usize; 3] = [15, 28, 49];
    let mut out = format!(
        "  {:<k$}{:<f$}{}\n",
        "kind",
        "fields",
        "effect",
        k = W[0],
        f = W[1]
    );
    for kind in FaultKind::ALL {
        let fields = wrap(kind.fields_help(), W[1] - 2);
        let effect = wrap(kind.effect(), W[2]);
        for row in 0..fields.len().max(effect.len()) {
            let name = if row == 0 { kind.name() } else { "" };
            let f = fields.get(row).map_or("", String::as_str);
            let e = effect.get(row).map_or("", String::as_str);
            let line = format!("  {name:<k$}{f:<w$}{e}", k = W[0], w = W[1]);
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// Greedy word wrap to `width` columns.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::training::{Question, View};

    /// Every question and view name is set off from its text by at least two spaces, so the name
    /// can be read (and copied) whole.
    #[test]
    fn exercise_names_are_apart_from_their_text() {
        let help = exercise_help();
        let names = Question::ALL
            .iter()
            .map(|q| q.name())
            .chain(View::ALL.iter().map(|v| v.name()));
        for name in names {
            let line = help
                .lines()
                .find(|l| l.trim_start().split("  ").next() == Some(name))
                .unwrap_or_else(|| panic!("no line names {name} apart from its text:\n{help}"));
            assert!(line.starts_with(&format!("  {name}  ")), "{line}");
        }
    }
}
