//! **The one spawn path.** [`Spawner::spawn`] is the only way anything in
//! procbox starts a process, and it always takes the same steps:
//!
//! 1. **judge**: the [`Gate`] decides the request against the policy (pure);
//! 2. **escalate**: a request that no allow rule grants (and that no deny
//!    rule and no manifest refuses) goes to the [`Escalation`] hook, if
//!    any; its "allow" is judged again through the gate, so deny rules, the
//!    manifest, pins, env and stdio rules still apply;
//! 3. **authorize**: every [`Authorizer`] sees the allowed request and may
//!    refuse it;
//! 4. **admit**: `Admission` reserves a running slot and one of
//!    `max-spawns`, given back if the spawn does not happen;
//! 5. **spawn**: the supervisor starts the child from the permit;
//! 6. **observe**: every [`Observer`] sees the final verdict (so the audit
//!    log never records "allowed" for a spawn that did not happen), and
//!    later the child's exit.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::gate::fix::FixStyle;
use crate::gate::SpawnError;
use crate::gate::{Decision, Gate, Refusal, SpawnRequest, Unmatched};
use crate::policy::rule::{ArgPattern, ArgsPattern, ExecRule};
use crate::policy::{Policy, Source};
use crate::process_tree::cgroup::{self, TreeCgroup};
use crate::process_tree::measure::ChildCgroup;
use crate::process_tree::namespace::ContainmentError;
use crate::process_tree::Containment;
use crate::sandbox::plan::{Planned, Planner, TreePlan};
use crate::sandbox::probe::{Enforcement, Unenforceable};
use crate::sandbox::run_tmp::RunTmp;
use crate::spawn::hooks::{Answer, Authorizer, Escalation, ExitEvent, Observer};
use crate::spawn::pauses::Pauses;
use crate::supervisor::admission::{Admission, Permit};
use crate::supervisor::stages::StageClock;
use crate::supervisor::{self, ExitWaiter, Pipes, Process, Timeout};

/// Starts the processes of one plugin run, under one policy and its hooks.
pub struct Spawner {
    gate: Gate,
    confined: Confined,
    admission: Admission,
    hooks: Hooks,
    /// Allow rules the escalation hook added during this run.
    granted: Mutex<Vec<ExecRule>>,
    exits: ExitRegistry,
    /// How long plugins waited for the escalation hook.
    pauses: Arc<Pauses>,
}

/// The hooks of a [`Spawner`]: [`Authorizer`](crate::Authorizer)s, one [`Escalation`](crate::Escalation) hook and [`Observer`](crate::Observer)s.
#[derive(Clone, Default)]
pub struct Hooks {
    /// Called, in order, for requests the policy allows.
    pub authorizers: Vec<Arc<dyn Authorizer>>,
    /// Asked about requests no allow rule grants.
    pub escalation: Option<Arc<dyn Escalation>>,
    /// Told of every final verdict and every exit.
    pub observers: Vec<Arc<dyn Observer>>,
    /// Writes the fix of a denial the plugin gets, in the words of the
    /// application's users (default: a grants-file line,
    /// [`crate::gate::fix::GrantsFile`]).
    pub fix_style: Option<Arc<dyn FixStyle>>,
}

/// A child that [`Spawner::spawn`] started.
#[derive(Debug)]
pub struct Spawned {
    /// The supervised process.
    pub process: Process,
    /// procbox's ends of its piped streams.
    pub pipes: Pipes,
    /// The policy's cap on its captured output.
    pub max_output_bytes: Option<u64>,
}

impl Spawner {
    /// A spawner for `policy` with `hooks`.
    pub fn new(policy: Arc<Policy>, hooks: Hooks) -> Self {
        Spawner {
            confined: Confined::new(&policy),
            admission: Admission::new(policy.limits),
            gate: Gate::new(policy),
            hooks,
            granted: Mutex::default(),
            exits: ExitRegistry::default(),
            pauses: Arc::default(),
        }
    }

    /// What the kernel enforces on this spawner's children, or why it
    /// cannot enforce what the policy requires.
    pub fn enforcement(&self) -> Result<&Enforcement, &Unenforceable> {
        self.confined.enforcement.as_ref()
    }

    /// How the denials its plugin gets write their fix.
    pub fn fix_style(&self) -> &dyn FixStyle {
        match &self.hooks.fix_style {
            Some(style) => style.as_ref(),
            None => &crate::gate::fix::GrantsFile,
        }
    }

    /// The gate this spawner judges with.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The children this spawner started that have not been reaped yet.
    pub fn exits(&self) -> ExitRegistry {
        self.exits.clone()
    }

    /// Judges, authorizes, admits and starts `request`; see the module docs.
    /// `timeout` is the plugin's own; the policy's ceiling shortens it.
    /// `upstream` is called only once the request is allowed, to take the
    /// pipe a `child-stdout` stdin reads from.
    ///
    /// # Errors
    /// The refusal or failure the plugin gets: [`SpawnError`].
    pub async fn spawn(
        &self,
        request: SpawnRequest,
        timeout: Option<Timeout>,
        upstream: impl FnOnce() -> Result<Option<OwnedFd>, SpawnError>,
    ) -> Result<Spawned, SpawnError> {
        let started = self.start(&request, timeout, upstream).await;
        let verdict = started.as_ref().map(|(_, decision)| decision);
        for observer in &self.hooks.observers {
            observer.on_verdict(&request, verdict);
        }
        let (spawned, decision) = started?;
        self.observe_exit(&spawned.process, decision);
        Ok(spawned)
    }

    async fn start(
        &self,
        request: &SpawnRequest,
        timeout: Option<Timeout>,
        upstream: impl FnOnce() -> Result<Option<OwnedFd>, SpawnError>,
    ) -> Result<(Spawned, Decision), SpawnError> {
        let mut clock = StageClock::requested();
        let decision = self.decide(request).await?;
        clock.judged();
        let mut permit = self.admission.admit(decision)?;
        let upstream = upstream()?;
        let timeout = Timeout::capped(timeout, permit.max_runtime());
        let plan = self.confined.plan(self.gate.policy(), &permit)?;
        let measure = match (request.measure_tree, &plan) {
            (true, Some(_)) => self.confined.child_cgroup(),
            _ => None,
        };
        let (process, pipes) =
            supervisor::spawn(&mut permit, upstream, timeout, plan.as_deref(), measure, clock).await?;
        if let Some(planned) = plan.as_ref().filter(|p| p.plan.confines()) {
            permit.confined(planned.summary.clone());
        }
        self.exits.register(process.waiter());
        let spawned = Spawned {
            process,
            pipes,
            max_output_bytes: permit.max_output_bytes(),
        };
        Ok((spawned, permit.into_decision()))
    }

    /// Judge, escalate, authorize: the final decision on `request`.
    async fn decide(&self, request: &SpawnRequest) -> Result<Decision, SpawnError> {
        let decision = match self.judge(request) {
            Ok(decision) => decision,
            Err(Refusal::Final(error)) => return Err(error),
            Err(Refusal::Unmatched(unmatched)) => self.escalate(request, unmatched).await?,
        };
        for authorizer in &self.hooks.authorizers {
            if let Err(reason) = authorizer.authorize(&decision).await {
                return Err(SpawnError::denied(format!(
                    "{}: refused by the host application: {reason}",
                    decision.command_line()
                )));
            }
        }
        Ok(decision)
    }

    /// The time its escalation hook has kept plugins waiting, which the
    /// runtime leaves out of the plugin's time budget.
    pub fn pauses(&self) -> Arc<Pauses> {
        self.pauses.clone()
    }

    fn judge(&self, request: &SpawnRequest) -> Result<Decision, Refusal> {
        let granted = self.granted.lock().unwrap_or_else(|e| e.into_inner());
        self.gate.judge(request, &granted)
    }

    /// Asks the escalation hook; an "allow" is judged again with the rule
    /// it grants.
    async fn escalate(&self, request: &SpawnRequest, unmatched: Unmatched) -> Result<Decision, SpawnError> {
        let Some(hook) = &self.hooks.escalation else {
            return Err(unmatched.error());
        };
        let answer = {
            let _waiting = self.pauses.begin();
            hook.escalate(&unmatched).await
        };
        let (rule, remember) = match answer {
            Answer::Deny(reason) => {
                return Err(SpawnError::denied(format!(
                    "{}: refused by the host application: {reason}",
                    unmatched.command_line()
                )))
            }
            Answer::Abort(reason) => {
                return Err(SpawnError::Aborted {
                    command: unmatched.command_line(),
                    reason,
                })
            }
            Answer::AllowOnce => (exact_rule(request, &unmatched), None),
            Answer::AllowRule(written) => (self.granted_rule(&written, &unmatched)?, Some(written)),
        };
        let decision = self
            .gate
            .judge(request, std::slice::from_ref(&rule))
            .map_err(Refusal::into_error)?;
        if let Some(written) = remember {
            self.granted.lock().unwrap_or_else(|e| e.into_inner()).push(rule);
            hook.accepted(&unmatched, &written);
        }
        Ok(decision)
    }

    /// The rule an escalation hook granted, checked to cover the request.
    fn granted_rule(&self, written: &str, unmatched: &Unmatched) -> Result<ExecRule, SpawnError> {
        let refused = |why: String| {
            SpawnError::denied(format!(
                "{}: the host application granted rule '{written}', but {why}",
                unmatched.command_line()
            ))
        };
        let rule = self
            .gate
            .policy()
            .resolve_rule(written, Source::Escalation)
            .map_err(|e| refused(e.to_string()))?;
        if !rule.matches(&unmatched.program, &unmatched.args) {
            return Err(refused("it does not match the request".into()));
        }
        Ok(rule)
    }

    /// Tells the observers, in the background, how the child ended.
    fn observe_exit(&self, process: &Process, decision: Decision) {
        if self.hooks.observers.is_empty() {
            return;
        }
        let observers = self.hooks.observers.clone();
        let waiter = process.waiter();
        let pid = process.id();
        let report = tokio::spawn(async move {
            let status = waiter.status().await;
            let event = ExitEvent {
                pid,
                program: decision.program(),
                args: decision.args(),
                status: &status,
            };
            observers.iter().for_each(|observer| observer.on_exit(&event));
        });
        self.exits.register_report(report);
    }
}

/// A rule that allows exactly the request: its program with these literal
/// arguments, for an escalation's "allow once".
fn exact_rule(request: &SpawnRequest, unmatched: &Unmatched) -> ExecRule {
    ExecRule {
        written: unmatched.command_line(),
        program: request.program.clone(),
        path: unmatched.program.clone(),
        args: ArgsPattern::Positional(unmatched.args.iter().cloned().map(ArgPattern::Literal).collect()),
        sha256: None,
        source: Source::Escalation,
    }
}

/// The unreaped children of one run, and the tasks that tell observers how
/// they ended: whoever ends the run waits for both ([`settle`](Self::settle)),
/// so no exit goes unreported because the process ended first.
#[derive(Debug, Clone, Default)]
pub struct ExitRegistry(Arc<Mutex<Unsettled>>);

#[derive(Debug, Default)]
struct Unsettled {
    waiters: Vec<ExitWaiter>,
    reports: Vec<tokio::task::JoinHandle<()>>,
}

impl ExitRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Unsettled> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers a new child, forgetting those already reaped.
    pub fn register(&self, waiter: ExitWaiter) {
        let mut unsettled = self.lock();
        unsettled.waiters.retain(|w| !w.is_reaped());
        unsettled.waiters.push(waiter);
    }

    /// Remembers a task that reports an exit to the observers.
    fn register_report(&self, report: tokio::task::JoinHandle<()>) {
        let mut unsettled = self.lock();
        unsettled.reports.retain(|r| !r.is_finished());
        unsettled.reports.push(report);
    }

    /// Takes all remembered children.
    pub fn take(&self) -> Vec<ExitWaiter> {
        std::mem::take(&mut self.lock().waiters)
    }

    /// Waits, at most `bound` in all, until every remembered child has been
    /// reaped and every observer has been told how it ended.
    pub async fn settle(&self, bound: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + bound;
        ExitWaiter::all_reaped(self.take(), bound).await;
        let reports = std::mem::take(&mut self.lock().reports);
        for report in reports {
            let _ = tokio::time::timeout_at(deadline, report).await;
        }
    }
}

/// The confinement of one run: what the kernel enforces, the plans of its
/// children, and their private temporary directory.
struct Confined {
    /// This run's number in the process (see [`TreePlan::run`]).
    run: u64,
    /// Whether a child was planned into the run's own tree (its launcher
    /// must be ended with the run).
    has_tree: std::sync::atomic::AtomicBool,
    enforcement: Result<Enforcement, Unenforceable>,
    containment: Result<Containment, ContainmentError>,
    planner: Planner,
    tmp: Mutex<Option<RunTmp>>,
    /// The run's cgroups, made at the first spawn when the policy limits
    /// the whole tree.
    cgroup: Mutex<Option<TreeCgroup>>,
}

impl Confined {
    fn new(policy: &Policy) -> Confined {
        static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Confined {
            run: RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            has_tree: std::sync::atomic::AtomicBool::new(false),
            enforcement: policy.enforcement(),
            containment: policy.containment(),
            planner: Planner::default(),
            tmp: Mutex::new(None),
            cgroup: Mutex::new(None),
        }
    }

    /// The plan for `permit`'s child, or `None` when children are not
    /// confined.
    fn plan(&self, policy: &Policy, permit: &Permit) -> Result<Option<Arc<Planned>>, SpawnError> {
        let enforcement = self
            .enforcement
            .as_ref()
            .map_err(|e| SpawnError::denied(format!("{}: {e}", permit.command_line())))?;
        let containment = self
            .containment
            .as_ref()
            .map_err(|e| SpawnError::denied(format!("{}: {e}", permit.command_line())))?;
        let tree = self.tree(policy, containment, permit)?;
        if !enforcement.active() {
            // Contained only: the launcher starts it, unconfined.
            let contained = tree != TreePlan::default();
            let tmp = Path::new("");
            return Ok(contained.then(|| self.planner.planned(policy, enforcement, &tree, permit.program(), tmp)));
        }
        let mut tmp = self.tmp.lock().unwrap_or_else(|e| e.into_inner());
        if tmp.is_none() {
            *tmp = Some(RunTmp::create().map_err(|e| {
                SpawnError::io(
                    format_args!("{}: creating the run's temporary directory", permit.command_line()),
                    e,
                )
            })?);
        }
        let tmp = tmp.as_ref().expect("created above").path();
        Ok(Some(self.planner.planned(
            policy,
            enforcement,
            &tree,
            permit.program(),
            tmp,
        )))
    }

    /// A cgroup of a child's own, to measure its tree (inside the run's
    /// memory cgroup, if it has one); `None` where there is none to make.
    fn child_cgroup(&self) -> Option<ChildCgroup> {
        let run = self.cgroup.lock().unwrap_or_else(|e| e.into_inner());
        ChildCgroup::create(run.as_ref())
    }

    /// What contains the run's tree: its PID namespace and cgroups (made
    /// at the first spawn).
    fn tree(&self, policy: &Policy, containment: &Containment, permit: &Permit) -> Result<TreePlan, SpawnError> {
        let limits = policy.limits.tree;
        let mut cgroup = self.cgroup.lock().unwrap_or_else(|e| e.into_inner());
        if limits.any() && cgroup.is_none() {
            let made = TreeCgroup::create(&limits, containment.pid_namespace)
                .map_err(|e| SpawnError::denied(format!("{}: {e}", permit.command_line())))?;
            *cgroup = Some(made);
        }
        let cgroups = cgroup.as_ref().map(|c| c.dirs().to_vec()).unwrap_or_default();
        let own = containment.pid_namespace || !cgroups.is_empty();
        if own {
            self.has_tree.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(TreePlan {
            pid_namespace: containment.pid_namespace,
            cgroups,
            run: if own { self.run } else { 0 },
        })
    }
}

impl Drop for Confined {
    /// Ends the run's launchers and namespaces (killing what is left of its
    /// tree), so that its cgroups are empty and go.
    fn drop(&mut self) {
        let cgroup = self.cgroup.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(cgroup) = &cgroup {
            cgroup::count_refused_forks(cgroup.refused_forks());
        }
        if cgroup.is_none() && !*self.has_tree.get_mut() {
            return;
        }
        let ending = Arc::new(Mutex::new(Some((self.run, cgroup))));
        let in_thread = ending.clone();
        // Reaping init waits for the namespace's last members, which this
        // runtime's watchers may still be reaping: not here. Only if no
        // thread can be made, here all the same (bounded): a run's tree must
        // not outlive it.
        let spawned = std::thread::Builder::new()
            .name("procbox-end-run".into())
            .spawn(move || end_run(&in_thread));
        if spawned.is_err() {
            end_run(&ending);
        }
    }
}

/// Ends a run's launchers (and with them its namespace and what is left in
/// it), then removes its cgroups.
fn end_run(ending: &Mutex<Option<(u64, Option<TreeCgroup>)>>) {
    let Some((run, cgroup)) = ending.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return;
    };
    crate::launcher::retire(run);
    if let Some(cgroup) = cgroup {
        crate::process_tree::measure::remove_busy();
        drop(cgroup);
    }
}
