//! keepalived (VRRP v2) moving the VIP between load-balancer nodes: advertisements every `advert_int`,
//! master-down timer = 3 x advert + skew, skew = (256 - priority) / 256 s (acassen/keepalived
//! keepalived/vrrp/vrrp.c), preemption by higher priority, and kubeadm's `vrrp_script check_apiserver`
//! (interval 3 s, fall 10, rise 2, weight -2; kubeadm docs/ha-considerations.md). A script's weight
//! works as keepalived.conf(5) has it: a negative one is added to the priority while the script
//! fails, a positive one while it succeeds, and 0 puts the instance in FAULT while it fails (no
//! adverts, no VIP; a master leaving for FAULT sends a priority-0 advert and drops the VIP, as on a
//! stop), from which it returns to BACKUP once the script succeeds `rise` times.

use crate::components::ctx::{Ctx, IdGen, Out, ProcId};
use crate::components::msg::{HealthPath, Msg};
use crate::engine::{Nanos, SEC};
use crate::observe::{ProcState, TraceKind};

/// keepalived's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeepalivedTimer {
    /// The master's next advertisement.
    Advert,
    /// No advertisement from a master for a master-down interval, if `token` is still the armed one.
    MasterDown { token: u64 },
    /// The next run of the check script.
    Script,
    /// Check-script run `id` got no answer in time.
    ScriptTimeout { id: u64 },
}

/// keepalived settings.
#[derive(Clone, Debug)]
pub struct KeepalivedConfig {
    pub peers: Vec<ProcId>,
    pub priority: u32,
    /// The local HAProxy the check script probes.
    pub local_haproxy: ProcId,
    pub advert_ns: Nanos,
    pub script_interval_ns: Nanos,
    pub script_fall: u32,
    pub script_rise: u32,
    pub script_weight: i32,
    /// Tie-break of equal priorities: the higher primary IP wins (our ordinal stands in for it).
    pub ordinal: u32,
}

/// VRRP state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Backup,
    Master,
    /// A tracked script with weight 0 fails: out of the election until it succeeds again.
    Fault,
}

/// The keepalived process.
#[derive(Clone)]
pub struct Keepalived {
    cfg: KeepalivedConfig,
    state: State,
    down_token: u64,
    script_ok: bool,
    script_streak: u32,
    script_pending: Option<u64>,
    ids: IdGen,
}

impl Keepalived {
    /// A stopped keepalived.
    pub fn new(cfg: KeepalivedConfig) -> Keepalived {
        Keepalived {
            cfg,
            state: State::Backup,
            down_token: 0,
            script_ok: true,
            script_streak: 0,
            script_pending: None,
            ids: IdGen::default(),
        }
    }

    /// The priority with the script's weight (keepalived.conf(5), `vrrp_script` `weight`: a
    /// positive weight counts while the script succeeds, a negative one while it fails), kept in
    /// 1..=254.
    fn effective_priority(&self) -> u32 {
        let w = self.cfg.script_weight as i64;
        let applied = match (self.script_ok, w > 0) {
            (true, true) | (false, false) => w,
            (true, false) | (false, true) => 0,
        };
        (self.cfg.priority as i64 + applied).clamp(1, 254) as u32
    }

    fn master_down_ns(&self) -> Nanos {
        // VRRPv2: Master_Down_Interval = 3 * Advertisement_Interval + Skew_Time,
        // Skew_Time = (256 - Priority) / 256 seconds.
        // Saturating: a huge advert interval must not overflow (debug builds panicked).
        self.cfg
            .advert_ns
            .saturating_mul(3)
            .saturating_add((256 - self.effective_priority() as u64) * SEC / 256)
    }

    /// Starts in BACKUP and waits one master-down interval before claiming the VIP.
    pub fn start(&mut self, ctx: &mut Ctx) {
        self.state = State::Backup;
        self.script_ok = true;
        self.script_streak = 0;
        self.script_pending = None;
        ctx.trace(TraceKind::Proc {
            proc: ctx.me,
            state: ProcState::Standby,
        });
        self.arm_master_down(ctx);
        ctx.timer(self.cfg.script_interval_ns, KeepalivedTimer::Script);
    }

    /// Graceful stop: a master sends a priority-0 advertisement and removes the VIP, so a backup takes
    /// over after its skew time instead of the full master-down interval (RFC 3768 6.4.3).
    pub fn stop(&mut self, ctx: &mut Ctx) {
        if self.state == State::Master {
            self.resign(ctx);
            ctx.log("Keepalived_vrrp: Stopping; (VI_1) sent 0 priority".into());
        }
        self.state = State::Backup;
    }

    /// A master leaving (a stop, or FAULT): a priority-0 advert, so that a backup takes over after
    /// its skew time, and the VIP removed.
    fn resign(&mut self, ctx: &mut Ctx) {
        for &p in &self.cfg.peers {
            ctx.send(p, Msg::Vrrp { priority: 0 });
        }
        ctx.out.push(Out::Vip(false));
    }

    /// The tracked script with weight 0 failed: FAULT (keepalived's `vrrp_state_leave_master` sends
    /// the priority-0 advert when a master goes to FAULT).
    fn enter_fault(&mut self, ctx: &mut Ctx) {
        if self.state == State::Master {
            self.resign(ctx);
            ctx.trace(TraceKind::Proc {
                proc: ctx.me,
                state: ProcState::Standby,
            });
        }
        self.state = State::Fault;
        // No master-down timer runs in FAULT.
        self.down_token += 1;
        ctx.log("Keepalived_vrrp: (VI_1) Entering FAULT STATE".into());
    }

    /// Crash.
    pub fn crash(&mut self) {
        self.state = State::Backup;
    }

    fn arm_master_down(&mut self, ctx: &mut Ctx) {
        self.down_token += 1;
        let token = self.down_token;
        ctx.timer(self.master_down_ns(), KeepalivedTimer::MasterDown { token });
    }

    fn become_master(&mut self, ctx: &mut Ctx) {
        self.state = State::Master;
        ctx.log(format!(
            "Keepalived_vrrp: (VI_1) Entering MASTER STATE (priority {})",
            self.effective_priority()
        ));
        ctx.out.push(Out::Vip(true));
        ctx.trace(TraceKind::Proc {
            proc: ctx.me,
            state: ProcState::Leader,
        });
        self.advertise(ctx);
    }

    fn become_backup(&mut self, ctx: &mut Ctx, why: &str) {
        if self.state == State::Master {
            ctx.log(format!(
                "Keepalived_vrrp: (VI_1) Entering BACKUP STATE ({why})"
            ));
            ctx.out.push(Out::Vip(false));
            ctx.trace(TraceKind::Proc {
                proc: ctx.me,
                state: ProcState::Standby,
            });
        }
        self.state = State::Backup;
        self.arm_master_down(ctx);
    }

    fn advertise(&mut self, ctx: &mut Ctx) {
        let priority = self.effective_priority();
        for &p in &self.cfg.peers {
            ctx.send(p, Msg::Vrrp { priority });
        }
        ctx.timer(self.cfg.advert_ns, KeepalivedTimer::Advert);
    }

    /// A master that hears a lower-priority master sends its own advert at once and a gratuitous ARP
    /// (vrrp_state_master_rx in acassen/keepalived keepalived/vrrp/vrrp.c: "Received advert from ...
    /// with lower priority ..., forcing new election", then vrrp_send_adv and vrrp_send_link_update).
    /// The other master yields on that advert; the ARP points the network back at this node, so the
    /// VIP is not left with whichever of the two released it last.
    fn reassert(&mut self, ctx: &mut Ctx, theirs: u32, mine: u32) {
        ctx.log(format!(
            "Keepalived_vrrp: (VI_1) Received advert with lower priority {theirs}, ours {mine}, forcing new election"
        ));
        for &p in &self.cfg.peers {
            ctx.send(p, Msg::Vrrp { priority: mine });
        }
        ctx.out.push(Out::Vip(true));
    }

    /// Timers.
    pub fn on_timer(&mut self, ctx: &mut Ctx, t: KeepalivedTimer) {
        match t {
            KeepalivedTimer::Advert => {
                if self.state == State::Master {
                    self.advertise(ctx);
                }
            }
            KeepalivedTimer::MasterDown { token } => {
                if self.state == State::Backup && token == self.down_token {
                    self.become_master(ctx);
                }
            }
            KeepalivedTimer::Script => self.run_script(ctx),
            KeepalivedTimer::ScriptTimeout { id } => {
                if self.script_pending == Some(id) {
                    self.script_pending = None;
                    self.script_result(ctx, false);
                }
            }
        }
    }

    /// `vrrp_script check_apiserver`: curl the local HAProxy's frontend.
    fn run_script(&mut self, ctx: &mut Ctx) {
        let id = self.ids.next_id();
        self.script_pending = Some(id);
        ctx.send(
            self.cfg.local_haproxy,
            Msg::HealthReq {
                id,
                path: HealthPath::Healthz,
            },
        );
        // The script's curl gives up well within the interval.
        ctx.timer(
            self.cfg.script_interval_ns.min(2 * SEC),
            KeepalivedTimer::ScriptTimeout { id },
        );
        ctx.timer(self.cfg.script_interval_ns, KeepalivedTimer::Script);
    }

    fn script_result(&mut self, ctx: &mut Ctx, ok: bool) {
        if ok == self.script_ok {
            self.script_streak = 0;
            return;
        }
        self.script_streak += 1;
        let needed = if self.script_ok {
            self.cfg.script_fall
        } else {
            self.cfg.script_rise
        };
        if self.script_streak >= needed {
            self.script_ok = ok;
            self.script_streak = 0;
            ctx.log(format!(
                "Keepalived_vrrp: Script `check_apiserver` now returning {}; effective priority {}",
                if ok { 0 } else { 1 },
                self.effective_priority()
            ));
            if self.cfg.script_weight == 0 {
                if !ok {
                    self.enter_fault(ctx);
                } else if self.state == State::Fault {
                    ctx.log("Keepalived_vrrp: (VI_1) Entering BACKUP STATE (leaving FAULT)".into());
                    self.state = State::Backup;
                    self.arm_master_down(ctx);
                }
            }
        }
    }

    /// Messages: peers' advertisements and the check script's answer.
    pub fn on_msg(&mut self, ctx: &mut Ctx, from: ProcId, msg: Msg) {
        match msg {
            Msg::Vrrp { priority } => {
                let mine = self.effective_priority();
                // Equal priorities: the higher primary IP wins; later nodes stand for higher IPs.
                let theirs_wins = priority > mine || (priority == mine && from > ctx.me);
                match self.state {
                    // Out of the election: adverts are not answered.
                    State::Fault => {}
                    State::Master => {
                        if theirs_wins {
                            self.become_backup(ctx, "received advert with higher priority");
                        } else if priority > 0 {
                            self.reassert(ctx, priority, mine);
                        }
                    }
                    State::Backup if priority == 0 => {
                        // The master is leaving: take over after the skew time only.
                        self.down_token += 1;
                        let skew = (256 - mine as u64) * SEC / 256;
                        let token = self.down_token;
                        ctx.timer(skew, KeepalivedTimer::MasterDown { token });
                    }
                    State::Backup => {
                        // Preemption (on by default): a lower-priority master's adverts are ignored, so
                        // the master-down timer runs out and this node takes over.
                        if priority >= mine {
                            self.arm_master_down(ctx);
                        }
                    }
                }
            }
            Msg::HealthResp { id, ok } => self.script_answer(ctx, id, ok),
            Msg::ConnRefused { id } | Msg::TlsFailed { id } => self.script_answer(ctx, id, false),
            // Not its protocol: VRRP between peers and the check script's HTTP probe only.
            Msg::Raft(_)
            | Msg::Forward(_)
            | Msg::EtcdReq { .. }
            | Msg::EtcdResp { .. }
            | Msg::EtcdPing { .. }
            | Msg::EtcdPong { .. }
            | Msg::ApiReq { .. }
            | Msg::ApiPing { .. }
            | Msg::ApiPong { .. }
            | Msg::GoAway { .. }
            | Msg::ProxyReq { .. }
            | Msg::ProxyAccepted { .. }
            | Msg::ApiResp { .. }
            | Msg::HealthReq { .. }
            | Msg::WatchEvent { .. } => {}
        }
    }

    /// The check script's probe got an answer (`ok`), if it is the run in flight.
    fn script_answer(&mut self, ctx: &mut Ctx, id: u64, ok: bool) {
        if self.script_pending == Some(id) {
            self.script_pending = None;
            self.script_result(ctx, ok);
        }
    }
}
