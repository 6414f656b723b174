//! `etcdctl` v3.5 on the admin's machine with `ETCDCTL_ENDPOINTS` naming every member's client URL
//! (etcd etcdctl/ctlv3/command/member_command.go, ep_command.go, printer_table.go, printer_simple.go).

use super::format::{ascii_table, go_duration, humanize_bytes};
use super::names::{etcdctl_member_id, founding_member_id, node_ip};
use super::{Moment, Printed};
use crate::components::ctx::ProcId;
use crate::components::etcd::types::Role;
use crate::engine::{Nanos, SEC};
use crate::topology::ProcKind;
use crate::world::observer::{member_can_write, quorum_leader};
use crate::world::World;

/// etcdctl `--command-timeout` default 5s (etcdctl/ctlv3/ctl.go `defaultCommandTimeOut`).
const COMMAND_TIMEOUT_NS: Nanos = 5 * SEC;
/// The etcd version the members report.
const ETCD_VERSION: &str = "3.5.16";

/// One member as the admin's machine sees it.
struct Member {
    proc: ProcId,
    name: String,
    id: String,
    id_num: u64,
    /// Its id inside the model's Raft (what its store's alarms name).
    raft_id: u64,
    client_url: String,
    peer_url: String,
    /// The process runs and the admin's machine reaches it.
    answers: bool,
    /// It can get a linearizable request through: it reaches a leader with quorum.
    commits: bool,
    /// A learner (added by `member-add`, not yet promoted).
    learner: bool,
}

fn members(m: &Moment) -> Vec<Member> {
    let w = &m.world;
    let client = w
        .layout
        .procs_of(ProcKind::Client)
        .next()
        .map_or(0, |p| w.procs[p].node);
    let leader = quorum_leader(w);
    // The membership as the cluster stores it (the leader's, else any running member's): members
    // removed by `member-remove` are gone, members added by `member-add` carry their new id.
    let known = leader
        .into_iter()
        .map(|l| l as usize)
        .chain(w.layout.procs_of(ProcKind::Etcd))
        .find_map(|p| w.procs[p].comp.etcd().and_then(|e| e.membership()))
        .map(|(ms, _)| ms);
    let mut out: Vec<Member> = w
        .layout
        .procs_of(ProcKind::Etcd)
        .filter_map(|p| {
            let record = match &known {
                Some(ms) => Some(*ms.iter().find(|r| r.proc as usize == p)?),
                None => None,
            };
            Some((p, record))
        })
        .map(|(p, record)| {
            let node = w.layout.procs[p].node;
            let name = w.layout.nodes[node].name.clone();
            let ip = node_ip(&w.layout, node);
            let proc = &w.procs[p];
            let answers = proc.alive
                && proc.comp.raft().is_some()
                && w.net.host_up(node as u16)
                && w.net.reachable(client, node as u16);
            let raft_id = record.map_or_else(|| founding_member_id(&w.layout, p), |r| r.id);
            let id = etcdctl_member_id(&w.layout, m.seed, p, raft_id);
            Member {
                proc: p as ProcId,
                id_num: u64::from_str_radix(&id, 16).unwrap_or(0),
                raft_id,
                id,
                client_url: format!("https://{ip}:2379"),
                peer_url: format!("https://{ip}:2380"),
                answers,
                commits: answers && member_can_write(w, p as ProcId, leader),
                learner: record.is_some_and(|r| r.learner),
                name,
            }
        })
        .collect();
    // The server lists members by ID (membership.MembersByID).
    out.sort_by_key(|m| m.id_num);
    out
}

/// A linearizable MemberList (the v3.5 default, etcd PR #11639): some member the client reaches must
/// get a read index from a leader with quorum; else the client retries until its command timeout.
fn list_or_timeout(ms: &[Member], p: &mut Printed, prefix: &str) -> bool {
    if ms.iter().any(|m| m.commits) {
        return true;
    }
    p.wait(
        COMMAND_TIMEOUT_NS,
        "etcdctl's --command-timeout: no member it reaches can serve a linearizable request",
    );
    p.err(format!("Error: {prefix}context deadline exceeded"));
    p.exit_code = 1;
    false
}

/// `etcdctl member list -w table`.
pub fn member_list(m: &Moment) -> Printed {
    let ms = members(m);
    let mut p = Printed::default();
    if !list_or_timeout(&ms, &mut p, "") {
        return p;
    }
    let rows: Vec<Vec<String>> = ms
        .iter()
        .map(|m| {
            vec![
                m.id.clone(),
                "started".into(),
                m.name.clone(),
                m.peer_url.clone(),
                m.client_url.clone(),
                m.learner.to_string(),
            ]
        })
        .collect();
    p.out(&ascii_table(
        &[
            "ID",
            "STATUS",
            "NAME",
            "PEER ADDRS",
            "CLIENT ADDRS",
            "IS LEARNER",
        ],
        &rows,
    ));
    p
}

/// With `--cluster` the endpoints come from a member list first (ep_command.go
/// `endpointsFromCluster`), which fails as a whole without quorum.
const CLUSTER_LIST_FAILED: &str = "failed to fetch endpoints from etcd cluster member list: ";

/// `etcdctl endpoint status --cluster -w table`: each member answers from its own state (not a
/// linearizable call), so members without a leader answer too, with `etcdserver: no leader` in ERRORS.
pub fn endpoint_status(m: &Moment) -> Printed {
    let w = &m.world;
    let ms = members(m);
    let mut p = Printed::default();
    if !list_or_timeout(&ms, &mut p, CLUSTER_LIST_FAILED) {
        return p;
    }
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for mem in &ms {
        let proc = &w.procs[mem.proc as usize];
        let (Some(raft), Some(etcd), true) = (proc.comp.raft(), proc.comp.etcd(), mem.answers)
        else {
            failed.push(format!(
                "Failed to get the status of endpoint {} (context deadline exceeded)",
                mem.client_url
            ));
            continue;
        };
        // The backend file as the member's quota judges it: every live key and every revision not
        // yet compacted, `settings.etcd.bytes_per_revision` each; a defrag shrinks it.
        let db_bytes = etcd.db_size_bytes();
        rows.push(vec![
            mem.client_url.clone(),
            mem.id.clone(),
            ETCD_VERSION.into(),
            humanize_bytes(db_bytes),
            (raft.role() == Role::Leader).to_string(),
            mem.learner.to_string(),
            raft.term().to_string(),
            raft.last_index().to_string(),
            raft.applied().to_string(),
            status_errors(raft.leader().is_none(), etcd.alarms().unwrap_or(&[]), &ms),
        ]);
    }
    if !failed.is_empty() {
        p.wait(
            COMMAND_TIMEOUT_NS,
            "etcdctl's --command-timeout per endpoint",
        );
        for f in failed {
            p.err(f);
        }
    }
    p.out(&ascii_table(
        &[
            "ENDPOINT",
            "ID",
            "VERSION",
            "DB SIZE",
            "IS LEADER",
            "IS LEARNER",
            "RAFT TERM",
            "RAFT INDEX",
            "RAFT APPLIED INDEX",
            "ERRORS",
        ],
        &rows,
    ));
    p
}

/// A status answer's `Errors` as etcdctl joins them (`strings.Join(resp.GetErrors(), ", ")`, printer.go
/// `makeEndpointStatusTable`): `etcdserver: no leader` when the member knows none, then each alarm its
/// store holds (server/etcdserver/api/v3rpc/maintenance.go `Status`).
fn status_errors(no_leader: bool, alarms: &[u64], ms: &[Member]) -> String {
    let mut errors = Vec::new();
    if no_leader {
        errors.push("etcdserver: no leader".to_string());
    }
    errors.extend(alarms.iter().map(|&a| alarm_member(a, ms)));
    errors.join(", ")
}

/// An `AlarmMember` as Go prints it (`%+v`, its `String`: golang/protobuf v1.5's
/// `CompactTextString`, which etcd v3.5's generated code calls): each field `name:value` followed by
/// a space, the last one too, and the member's ID in decimal, unlike the hexadecimal of `member
/// list` (`memberID:13803658152347727308 alarm:NOSPACE `). The model raises NOSPACE only.
fn alarm_member(raft_id: u64, ms: &[Member]) -> String {
    let id = ms
        .iter()
        .find(|m| m.raft_id == raft_id)
        .map_or(raft_id, |m| m.id_num);
    alarm_text(id)
}

/// The protobuf text of a NOSPACE `AlarmMember` of the member etcdctl knows as `id` (see
/// [`alarm_member`]); the `alarm-disarm` fault's etcdctl line prints it too.
pub fn alarm_text(id: u64) -> String {
    format!("memberID:{id} alarm:NOSPACE ")
}

/// `etcdctl alarm list`: an `AlarmRequest{GET}`, which etcd serves through Raft
/// (server/etcdserver/v3_server.go `Alarm`, `raftRequest`), so without quorum it waits out the
/// command timeout as a member list does. With quorum it prints each alarm raised, one a line
/// (etcdctl printer_simple.go `Alarm`), and nothing when none is.
pub fn alarm_list(m: &Moment) -> Printed {
    let ms = members(m);
    let mut p = Printed::default();
    if !list_or_timeout(&ms, &mut p, "") {
        return p;
    }
    // The alarms as applied by the member that served the request (one that gets it through).
    let alarms = ms
        .iter()
        .find(|x| x.commits)
        .and_then(|x| m.world.procs[x.proc as usize].comp.etcd())
        .and_then(|e| e.alarms())
        .unwrap_or(&[]);
    for &a in alarms {
        p.out(&alarm_member(a, &ms));
    }
    p
}

/// One-way latency between two nodes under the scenario's network settings.
fn latency_ns(w: &World, a: usize, b: usize) -> Nanos {
    let n = &w.scenario.settings.network;
    if a == b {
        n.local_latency.ns()
    } else if w.layout.nodes[a].zone == w.layout.nodes[b].zone {
        n.zone_latency.ns()
    } else {
        n.cross_zone_latency.ns()
    }
}

/// `etcdctl endpoint health --cluster`: a linearizable GET of `health` on each member
/// (ep_command.go `epHealthCommandFunc`). Healthy ones print on stdout as they answer, with the time
/// it took (here the round trips: client to member, member to leader, leader to a follower, plus
/// the WAL fsync); unhealthy ones on stderr after the command timeout, then `Error: unhealthy cluster`
/// and exit 1.
pub fn endpoint_health(m: &Moment) -> Printed {
    let w = &m.world;
    let ms = members(m);
    let mut p = Printed::default();
    if !list_or_timeout(&ms, &mut p, CLUSTER_LIST_FAILED) {
        return p;
    }
    let client = w
        .layout
        .procs_of(ProcKind::Client)
        .next()
        .map_or(0, |c| w.procs[c].node);
    let leader = quorum_leader(w).map(|l| w.procs[l as usize].node as usize);
    let mut healthy: Vec<(Nanos, String)> = Vec::new();
    let mut unhealthy = Vec::new();
    for mem in &ms {
        if !mem.commits {
            unhealthy.push(format!(
                "{} is unhealthy: failed to commit proposal: context deadline exceeded",
                mem.client_url
            ));
            continue;
        }
        let node = w.procs[mem.proc as usize].node as usize;
        let l = leader.unwrap_or(node);
        let nearest_follower = w
            .layout
            .procs_of(ProcKind::Etcd)
            .map(|o| w.procs[o].node as usize)
            .filter(|&o| o != l)
            .map(|o| latency_ns(w, l, o))
            .min()
            .unwrap_or(0);
        let took = 2 * latency_ns(w, client as usize, node)
            + 2 * latency_ns(w, node, l)
            + 2 * nearest_follower
            + w.scenario.settings.etcd.fsync_latency.ns();
        healthy.push((took, mem.client_url.clone()));
    }
    healthy.sort();
    for (took, url) in healthy {
        p.out(&format!(
            "{url} is healthy: successfully committed proposal: took = {}",
            go_duration(took)
        ));
    }
    if !unhealthy.is_empty() {
        p.wait(COMMAND_TIMEOUT_NS, "etcdctl's --command-timeout");
        for u in unhealthy {
            p.err(u);
        }
        p.err("Error: unhealthy cluster");
        p.exit_code = 1;
    }
    p
}
