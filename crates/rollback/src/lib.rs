//! Rollback: remove a deployment through every execution plane it used, within the 4-hour SLA.
//!
//! Start with [`Rollback`], built from [`RollbackPorts`] and a [`RollbackConfig`]. A rollback
//! takes two calls:
//!
//! 1. [`Rollback::plan`] loads the intent and finds the rings the deployment reached: the
//!    intent's own ring and the rings of the approved intents with the same application id and
//!    version, which promotion created. The [`RollbackPlan`] lists one removal per ring and
//!    execution plane. Planning changes nothing.
//! 2. [`Rollback::run`] carries the plan out, or with [`RunOptions::dry_run`] only reports it.
//!    The removal calls run concurrently, at most [`RollbackConfig::concurrency`] at a time,
//!    each retried by [`RetryPolicy`](ops_core::retry::RetryPolicy), which honours Retry-After.
//!    When every removal has succeeded, the intents of the plan are marked RolledBack, which
//!    keeps the version from coming back: drift detection expects only approved intents and an
//!    import never revives a RolledBack intent. The [`RollbackReport`] names every step's
//!    outcome. A failed execution plane is an outcome there, not an error.
//!
//! # Resuming
//!
//! The first run generates a `rollback-` correlation id and records it, with the start time,
//! in the journal under the original intent's id. Each removal is recorded as `Started` before
//! the call and `Succeeded` or `Failed` after it. A rerun of the same rollback reuses the id and
//! the start time, skips the steps that succeeded, and retries the others, including those left
//! `Started` by a crash: removal is idempotent, and removing what is gone reports
//! `AlreadyAbsent`. A rerun after full success makes no removal call. See the `journal` module
//! for the step names.
//!
//! # Deadline
//!
//! The deadline is the first start plus [`RollbackConfig::deadline`], on the clock port. Before
//! each removal and each retry the run checks the clock. Each configured warning point that
//! passes sends a P1 notification once. Past the deadline the run stops making calls and sends
//! a P0 alert with the dedup key `rollback-sla-<rollback id>`. It records `RollbackFailed` and
//! keeps the journal, so that a person can review it and rerun with
//! [`RunOptions::resume_past_deadline`].
//!
//! # Evidence
//!
//! Every run records `RollbackStarted` before its first call and stops without acting when the
//! audit sink fails. Each removal that was attempted gets `RollbackStepCompleted`, and the run
//! ends with `RollbackCompleted` or `RollbackFailed`. Events carry the rollback id as their
//! correlation id and the original intent's id as the related id. Log lines carry both through
//! the span fields `correlation_id` and `intent_correlation_id`.

mod config;
mod error;
mod execute;
mod journal;
mod plan;
mod report;
mod run;
mod sla;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use ops_core::ConnectorKind;
use ops_core::ports::{AuditSink, Clock, ControlPlane, ExecutionPlane, Journal, Notifier};
use ops_core::rate::RateLimiter;
use tokio::sync::Semaphore;

pub use config::{RollbackConfig, RollbackSettings};
pub use error::RollbackError;
pub use plan::{PlannedIntent, PlannedStep, RollbackPlan};
pub use report::{RollbackReport, StepOutcome, StepReport};
pub use run::RunOptions;

/// The ports a rollback uses.
pub struct RollbackPorts {
    /// The store of intents.
    pub control_plane: Arc<dyn ControlPlane>,
    /// The adapter of each configured execution plane, under the kind it reports.
    pub execution_planes: BTreeMap<ConnectorKind, Arc<dyn ExecutionPlane>>,
    /// The journal of steps, which lets a rerun resume.
    pub journal: Arc<dyn Journal>,
    /// The audit sink.
    pub audit: Arc<dyn AuditSink>,
    /// The notifier that warns as the deadline approaches and pages when it passes.
    pub notifier: Arc<dyn Notifier>,
    /// The time, for the deadline and for retry pauses.
    pub clock: Arc<dyn Clock>,
}

/// Plans and runs rollbacks.
///
/// Cloning is cheap, and clones share the bound on removal calls in flight. Rollbacks that run
/// side by side on clones, or through [`Rollback::run_many`], stay within
/// [`RollbackConfig::concurrency`] together.
#[derive(Clone)]
pub struct Rollback {
    ports: Arc<RollbackPorts>,
    config: Arc<RollbackConfig>,
    call_permits: Arc<Semaphore>,
    /// One limiter per rate-limited execution plane, shared by clones like the permits.
    rate_limiters: Arc<BTreeMap<ConnectorKind, Arc<RateLimiter>>>,
}

impl Rollback {
    /// Creates the service after checking the configuration, and that each execution plane is
    /// registered under the kind it reports.
    pub fn new(ports: RollbackPorts, config: RollbackConfig) -> Result<Rollback, RollbackError> {
        config.validate()?;
        for (registered, plane) in &ports.execution_planes {
            if plane.kind() != *registered {
                return Err(RollbackError::PlaneRegisteredUnderOtherKind {
                    registered: *registered,
                    reported: plane.kind(),
                });
            }
        }
        let rate_limiters = config
            .rate_limits
            .iter()
            .map(|(connector, rate)| {
                (
                    *connector,
                    Arc::new(RateLimiter::new(*rate, burst_of(*rate))),
                )
            })
            .collect();
        Ok(Rollback {
            call_permits: Arc::new(Semaphore::new(config.concurrency)),
            rate_limiters: Arc::new(rate_limiters),
            ports: Arc::new(ports),
            config: Arc::new(config),
        })
    }

    /// Returns the configuration.
    pub fn config(&self) -> &RollbackConfig {
        &self.config
    }
}

/// Returns the calls a rate-limited plane may receive back to back: 50 ms worth of its rate, at
/// least one. Timers wake late by a millisecond or so; without this slack every late wake-up
/// would be time lost for good. A service that accepts its rate over any one-second window also
/// accepts these short bursts.
fn burst_of(calls_per_second: f64) -> u32 {
    (calls_per_second * 0.05).ceil().clamp(1.0, 1_000.0) as u32
}

/// Locks a mutex of this crate. The data behind them stays consistent at every step, so a
/// panic in another task does not make it unusable.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
