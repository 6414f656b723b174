//! HAProxy's `show stat` on each load balancer's stats socket (HAProxy management guide, "9.1. CSV
//! format"; the 1.7 column set), with kubeadm's HA configuration: frontend `apiserver`, backend
//! `apiserverbackend` with one server per control-plane node (kubernetes/kubeadm
//! docs/ha-considerations.md). And who holds the VIP.

use super::names::{node_ip, VIP};
use super::{Moment, Printed};
use crate::components::ctx::ProcId;
use crate::components::Component;
use crate::engine::{Nanos, SEC};
use crate::observe::{ProcState, TraceKind};
use crate::topology::ProcKind;
use crate::world::observer::{apiserver_can_write, quorum_leader};
use crate::world::World;

/// The columns of `show stat` (HAProxy 1.7), in order; the line starts with `# ` and every line
/// ends with a comma.
const FIELDS: [&str; 62] = [
    "pxname",
    "svname",
    "qcur",
    "qmax",
    "scur",
    "smax",
    "slim",
    "stot",
    "bin",
    "bout",
    "dreq",
    "dresp",
    "ereq",
    "econ",
    "eresp",
    "wretr",
    "wredis",
    "status",
    "weight",
    "act",
    "bck",
    "chkfail",
    "chkdown",
    "lastchg",
    "downtime",
    "qlimit",
    "pid",
    "iid",
    "sid",
    "throttle",
    "lbtot",
    "tracked",
    "type",
    "rate",
    "rate_lim",
    "rate_max",
    "check_status",
    "check_code",
    "check_duration",
    "hrsp_1xx",
    "hrsp_2xx",
    "hrsp_3xx",
    "hrsp_4xx",
    "hrsp_5xx",
    "hrsp_other",
    "hanafail",
    "req_rate",
    "req_rate_max",
    "req_tot",
    "cli_abrt",
    "srv_abrt",
    "comp_in",
    "comp_out",
    "comp_byp",
    "comp_rsp",
    "lastsess",
    "last_chk",
    "last_agt",
    "qtime",
    "ctime",
    "rtime",
    "ttime",
];

/// One CSV line from (field, value) pairs; unnamed fields are empty, as HAProxy leaves fields that
/// do not apply to the row's type.
fn csv(values: &[(&str, String)]) -> String {
    let mut s = String::new();
    for f in FIELDS {
        if let Some((_, v)) = values.iter().find(|(k, _)| *k == f) {
            s.push_str(v);
        }
        s.push(',');
    }
    s
}

/// Per (load balancer, server): DOWN transitions, the last change and the time spent DOWN, from the
/// trace (since the load balancer process last started, as HAProxy's counters are).
fn history(w: &World, lb: u16, server: u16, since: Nanos) -> (u32, Nanos, Nanos) {
    let (mut downs, mut last, mut down_ns, mut down_since) = (0, since, 0, None);
    for e in w.trace.events.iter().filter(|e| e.time_ns >= since) {
        if let TraceKind::LbBackend { lb: l, backend, up } = e.kind {
            if l != lb || backend != server {
                continue;
            }
            last = e.time_ns;
            if up {
                down_ns += down_since.map_or(0, |d| e.time_ns - d);
                down_since = None;
            } else {
                downs += 1;
                down_since = Some(e.time_ns);
            }
        }
    }
    down_ns += down_since.map_or(0, |d| w.now - d);
    (downs, last, down_ns)
}

/// When process `proc` last started (from the trace).
fn started_ns(w: &World, proc: usize) -> Nanos {
    w.trace
        .events
        .iter()
        .rfind(|e| {
            matches!(e.kind, TraceKind::Proc { proc: p, state: ProcState::Up } if p as usize == proc)
        })
        .map(|e| e.time_ns)
        .unwrap_or(0)
}

/// `show stat` on every load balancer, each after a remark naming it (and whether it holds the VIP).
pub fn show_stat(m: &Moment) -> Printed {
    let w = &m.world;
    let mut p = Printed::default();
    let lbs: Vec<usize> = w.layout.procs_of(ProcKind::Haproxy).collect();
    if lbs.is_empty() {
        p.lines.push((
            super::Stream::Note,
            "(no load balancers: the endpoint is a control-plane node)".into(),
        ));
        return p;
    }
    if w.layout.procs_of(ProcKind::Keepalived).next().is_some() {
        let holder = w
            .vip_holder
            .map(|n| w.layout.nodes[n as usize].name.clone());
        p.lines.push((
            super::Stream::Note,
            match holder {
                Some(h) => format!("(VIP {VIP} is on {h})"),
                None => format!("(VIP {VIP} is on no node: nobody answers for it)"),
            },
        ));
    }
    for lb in lbs {
        let node = w.layout.procs[lb].node;
        let name = &w.layout.nodes[node].name;
        let proc = &w.procs[lb];
        let Component::Haproxy(h) = &proc.comp else {
            continue;
        };
        p.lines.push((
            super::Stream::Note,
            format!("({name}, {})", node_ip(&w.layout, node)),
        ));
        if !w.net.host_up(node as u16) {
            p.err(format!(
                "ssh: connect to host {name} port 22: Connection timed out"
            ));
            p.exit_code = 1;
            continue;
        }
        if !proc.alive {
            p.err(format!(
                "{} socat[4242] E connect(5, AF=1 \"/run/haproxy/admin.sock\", 25): Connection refused",
                wall_clock(w.now)
            ));
            p.exit_code = 1;
            continue;
        }
        p.out(&stat_lines(w, lb, h));
    }
    p
}

/// The CSV of one running HAProxy.
fn stat_lines(w: &World, lb: usize, h: &crate::components::load_balancer::Haproxy) -> String {
    let since = started_ns(w, lb);
    let mut out = format!("# {},\n", FIELDS.join(","));
    let s = |v: &str| v.to_string();
    out.push_str(&csv(&[
        ("pxname", s("apiserver")),
        ("svname", s("FRONTEND")),
        ("scur", s("0")),
        ("smax", s("0")),
        ("slim", s("2000")),
        ("stot", s("0")),
        ("bin", s("0")),
        ("bout", s("0")),
        ("dreq", s("0")),
        ("dresp", s("0")),
        ("ereq", s("0")),
        ("status", s("OPEN")),
        ("pid", s("1")),
        ("iid", s("2")),
        ("sid", s("0")),
        ("type", s("0")),
    ]));
    out.push('\n');
    let mut up_count = 0;
    for (sid, server) in h.servers().enumerate() {
        up_count += server.2 as u32;
        out.push_str(&server_row(w, lb, since, sid, server));
        out.push('\n');
    }
    out.push_str(&csv(&[
        ("pxname", s("apiserverbackend")),
        ("svname", s("BACKEND")),
        ("scur", s("0")),
        ("stot", s("0")),
        ("status", s(if up_count > 0 { "UP" } else { "DOWN" })),
        ("weight", up_count.to_string()),
        ("act", up_count.to_string()),
        ("bck", s("0")),
        ("lastchg", ((w.now - since) / SEC).to_string()),
        ("pid", s("1")),
        ("iid", s("3")),
        ("sid", s("0")),
        ("type", s("1")),
    ]));
    out.push('\n');
    out
}

/// One server's row: its state and transition, what its next check finds, and its history.
fn server_row(
    w: &World,
    lb: usize,
    since: Nanos,
    sid: usize,
    (api, server, up, streak): (ProcId, &str, bool, u32),
) -> String {
    let lbs = &w.scenario.settings.load_balancer;
    let (rise, fall) = (lbs.rise, lbs.fall);
    let lb_node = w.layout.procs[lb].node as u16;
    let leader = quorum_leader(w);
    let s = |v: &str| v.to_string();
    let a = &w.procs[api as usize];
    let (downs, last, down_ns) = history(w, lb as u16, api, since);
    let status = match (up, streak) {
        (true, 0) => "UP".to_string(),
        (true, s) => format!("UP {}/{fall}", fall.saturating_sub(s)),
        (false, 0) => "DOWN".to_string(),
        (false, s) => format!("DOWN {s}/{rise}"),
    };
    // What the next check finds: a timeout when the host does not answer, a refused connection
    // when nothing listens, a 500 when /healthz fails (its etcd check), else 200.
    let (check, code, took) = if !w.net.host_up(a.node) || !w.net.reachable(lb_node, a.node) {
        (
            "L4TOUT",
            String::new(),
            (lbs.check_timeout.ns() / 1_000_000).to_string(),
        )
    } else if !a.alive || !a.comp.serving() {
        ("L4CON", String::new(), s("0"))
    } else if !apiserver_can_write(w, api, leader) {
        ("L7STS", s("500"), s("2000"))
    } else {
        ("L7OK", s("200"), s("1"))
    };
    csv(&[
        ("pxname", s("apiserverbackend")),
        ("svname", s(server)),
        ("qcur", s("0")),
        ("qmax", s("0")),
        ("scur", s("0")),
        ("smax", s("0")),
        ("stot", s("0")),
        ("bin", s("0")),
        ("bout", s("0")),
        ("dresp", s("0")),
        ("econ", s("0")),
        ("eresp", s("0")),
        ("wretr", s("0")),
        ("wredis", s("0")),
        ("status", status),
        ("weight", s("1")),
        ("act", s("1")),
        ("bck", s("0")),
        ("chkfail", downs.to_string()),
        ("chkdown", downs.to_string()),
        ("lastchg", ((w.now - last) / SEC).to_string()),
        ("downtime", (down_ns / SEC).to_string()),
        ("pid", s("1")),
        ("iid", s("3")),
        ("sid", (sid + 1).to_string()),
        ("lbtot", s("0")),
        ("type", s("2")),
        ("check_status", s(check)),
        ("check_code", code),
        ("check_duration", took),
    ])
}

/// The machines' clock for log prefixes: the run starts at 2026-01-01 00:00:00 (socat's
/// `YYYY/MM/DD hh:mm:ss`).
fn wall_clock(ns: Nanos) -> String {
    let s = ns / SEC;
    let (d, h, m, sec) = (s / 86_400, (s / 3600) % 24, (s / 60) % 60, s % 60);
    format!("2026/01/{:02} {h:02}:{m:02}:{sec:02}", 1 + d.min(30))
}
