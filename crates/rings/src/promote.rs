//! Promotion: check the gates, then submit a copy of the intent for the next ring, once.
//!
//! The promotion id is generated in one step and used in the next: before submitting, the
//! promotion records `promote:<NextRing>:id` in the journal under the original intent's id,
//! with the `promote-` id as its detail. The submitted intent takes that id as its correlation
//! id, and the control plane's `submit` is idempotent on it. A rerun first looks for an intent
//! of the same application and version in the next ring. It reports such an intent as already
//! promoted, or rejects the promotion when that intent was rolled back. Otherwise it reuses the
//! recorded id. Either way, nothing is submitted twice.

use chrono::{DateTime, Utc};
use ops_core::audit::{AuditEvent, AuditEventType, Outcome};
use ops_core::ports::control_plane::{IntentFilter, SubmitOutcome};
use ops_core::ports::journal::StepState;
use ops_core::{CorrelationId, DeploymentIntent, IntentStatus, Ring};
use serde::Serialize;
use tracing::Instrument;

use crate::gates::{GateReport, GateResult};
use crate::{Promoter, RingsError};

/// The result of a promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromotionReport {
    /// The promotion's own `promote-` correlation id, which a submitted intent carries too.
    pub promote_id: CorrelationId,
    /// The intent promoted.
    pub intent_id: CorrelationId,
    /// The ring it is in.
    pub from_ring: Ring,
    /// The ring it is promoted to.
    pub to_ring: Ring,
    /// True when nothing was changed because the promotion was a dry run.
    pub dry_run: bool,
    /// The gates, unless the deployment had already been promoted.
    pub gates: Option<GateReport>,
    /// What happened.
    pub outcome: PromotionOutcome,
}

/// The outcome of a promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum PromotionOutcome {
    /// Every gate is met and the intent for the next ring was submitted.
    Submitted {
        /// The new intent's correlation id.
        intent_id: CorrelationId,
    },
    /// Every gate is met, and a run that is not a dry run would submit this intent.
    WouldSubmit {
        /// The correlation id the new intent would get.
        intent_id: CorrelationId,
    },
    /// At least one gate is not met, so nothing was submitted.
    Blocked,
    /// The next ring already has an intent for the same application and version.
    AlreadyPromoted {
        /// That intent's correlation id.
        intent_id: CorrelationId,
    },
}

impl PromotionReport {
    /// Returns true when a gate blocked the promotion.
    pub fn is_blocked(&self) -> bool {
        self.outcome == PromotionOutcome::Blocked
    }
}

impl Promoter {
    /// Promotes the deployment of intent `intent_id` from `current_ring` to the next ring when
    /// every gate is met.
    ///
    /// The intent must be in `current_ring` and approved, and a RolledBack intent is rejected. A
    /// gate not met gives [`PromotionOutcome::Blocked`], records `PromotionBlocked` and submits
    /// nothing. A dry run reads the same data and writes nothing: no journal entry, no audit
    /// event, no submission.
    pub async fn promote(
        &self,
        intent_id: &CorrelationId,
        current_ring: Ring,
        dry_run: bool,
    ) -> Result<PromotionReport, RingsError> {
        let next_ring = current_ring
            .next()
            .ok_or(RingsError::NoNextRing { ring: current_ring })?;
        let id_step = promote_id_step(next_ring);
        let recorded_id = self.recorded_promote_id(intent_id, &id_step).await?;
        let promote_id = recorded_id
            .clone()
            .unwrap_or_else(|| CorrelationId::generate("promote"));

        let span = tracing::error_span!(
            "promote",
            correlation_id = %promote_id,
            intent_correlation_id = %intent_id,
            ring = %current_ring,
            next_ring = %next_ring,
        );
        let promotion = Promotion {
            promoter: self,
            intent_id,
            promote_id,
            id_step,
            id_recorded: recorded_id.is_some(),
            from_ring: current_ring,
            to_ring: next_ring,
            dry_run,
        };
        promotion.run().instrument(span).await
    }

    /// Reads the promotion id an earlier run recorded for this ring, if any.
    ///
    /// NOTE: two promotions of the same intent started at the same moment can both find no id
    /// and no intent in the next ring, and submit two intents under different ids, because the
    /// journal port has no compare-and-set.
    async fn recorded_promote_id(
        &self,
        intent_id: &CorrelationId,
        step: &str,
    ) -> Result<Option<CorrelationId>, RingsError> {
        let entries = self
            .ports
            .journal
            .steps(intent_id)
            .await
            .map_err(|source| RingsError::ReadJournal {
                id: intent_id.clone(),
                source: Box::new(source),
            })?;
        let Some(entry) = entries.iter().find(|entry| entry.step == step) else {
            return Ok(None);
        };
        let detail = entry.detail.as_deref().unwrap_or_default();
        CorrelationId::parse(detail)
            .ok()
            .filter(|id| id.prefix() == "promote")
            .map(Some)
            .ok_or_else(|| RingsError::CorruptJournal {
                id: intent_id.clone(),
                step: step.to_owned(),
                detail: detail.to_owned(),
            })
    }
}

/// Returns the journal step, under the original intent, that contains the promotion id.
fn promote_id_step(next_ring: Ring) -> String {
    format!("promote:{next_ring}:id")
}

/// One promotion in progress.
struct Promotion<'a> {
    promoter: &'a Promoter,
    intent_id: &'a CorrelationId,
    promote_id: CorrelationId,
    id_step: String,
    /// True when an earlier run recorded `promote_id`.
    id_recorded: bool,
    from_ring: Ring,
    to_ring: Ring,
    dry_run: bool,
}

impl Promotion<'_> {
    async fn run(self) -> Result<PromotionReport, RingsError> {
        let intent = self.load_checked_intent().await?;
        let intents = self.promoter.list_intents(IntentFilter::default()).await?;

        if let Some(existing) = intents.iter().find(|candidate| {
            candidate.ring == self.to_ring && crate::same_application_version(candidate, &intent)
        }) {
            if existing.status == IntentStatus::RolledBack {
                return Err(RingsError::RolledBackInNextRing {
                    id: self.intent_id.clone(),
                    ring: self.to_ring,
                    rolled_back: existing.correlation_id.clone(),
                });
            }
            tracing::info!(
                existing_intent = %existing.correlation_id,
                "deployment already promoted; nothing submitted"
            );
            let outcome = PromotionOutcome::AlreadyPromoted {
                intent_id: existing.correlation_id.clone(),
            };
            return Ok(self.report(None, outcome));
        }

        let now = self.promoter.ports.clock.now();
        let deployment_ids = crate::deployment_ids(&intent, &intents);
        let gates = self
            .promoter
            .evaluate_with(&intent, &deployment_ids, now)
            .await?;
        if !gates.all_met() {
            return self.block(gates).await;
        }
        if self.dry_run {
            tracing::info!("promotion dry run: every gate is met; nothing submitted");
            let outcome = PromotionOutcome::WouldSubmit {
                intent_id: self.promote_id.clone(),
            };
            return Ok(self.report(Some(gates), outcome));
        }

        let submitted = self.submit(&intent, &gates, now).await?;
        if submitted == SubmitOutcome::AlreadyExists {
            // Another run promoted the same deployment between the check above and the submit.
            // The store kept that intent and refused this one.
            let intents = self.promoter.list_intents(IntentFilter::default()).await?;
            if let Some(existing) = intents.iter().find(|candidate| {
                candidate.ring == self.to_ring
                    && crate::same_application_version(candidate, &intent)
                    && candidate.correlation_id != self.promote_id
            }) {
                self.record_lost_race(&existing.correlation_id).await?;
                let outcome = PromotionOutcome::AlreadyPromoted {
                    intent_id: existing.correlation_id.clone(),
                };
                return Ok(self.report(Some(gates), outcome));
            }
        }
        self.record_id(StepState::Succeeded).await?;
        let outcome = PromotionOutcome::Submitted {
            intent_id: self.promote_id.clone(),
        };
        Ok(self.report(Some(gates), outcome))
    }

    /// Loads the intent and checks that it can be promoted from the requested ring.
    async fn load_checked_intent(&self) -> Result<DeploymentIntent, RingsError> {
        let intent = self.promoter.load_intent(self.intent_id).await?;
        if intent.ring != self.from_ring {
            return Err(RingsError::WrongRing {
                id: self.intent_id.clone(),
                actual: intent.ring,
                requested: self.from_ring,
            });
        }
        if intent.status == IntentStatus::RolledBack {
            return Err(RingsError::RolledBack {
                id: self.intent_id.clone(),
            });
        }
        if !intent.status.is_approved() {
            return Err(RingsError::NotApproved {
                id: self.intent_id.clone(),
                status: intent.status,
            });
        }
        Ok(intent)
    }

    /// Records why the promotion is blocked and reports it.
    async fn block(&self, gates: GateReport) -> Result<PromotionReport, RingsError> {
        let unmet: Vec<&GateResult> = gates.unmet().collect();
        tracing::info!(
            unmet = ?unmet.iter().map(|gate| gate.gate.name()).collect::<Vec<_>>(),
            "promotion blocked by gates"
        );
        if !self.dry_run {
            let event = self
                .event(
                    AuditEventType::PromotionBlocked,
                    Outcome::Failure,
                    gates.evaluated_at,
                )
                .with_detail("unmet_gates", &unmet);
            self.record_audit(event).await?;
        }
        Ok(self.report(Some(gates), PromotionOutcome::Blocked))
    }

    /// Records the promotion id, then the event, then submits the copy for the next ring. The
    /// caller closes the journal step after it has checked whether the copy was stored.
    async fn submit(
        &self,
        intent: &DeploymentIntent,
        gates: &GateReport,
        now: DateTime<Utc>,
    ) -> Result<SubmitOutcome, RingsError> {
        if !self.id_recorded {
            self.record_id(StepState::Started).await?;
        }
        let event = self
            .event(AuditEventType::PromotionSubmitted, Outcome::Success, now)
            .with_detail("new_intent_id", &self.promote_id)
            .with_detail("application_id", &intent.application_id)
            .with_detail("version", &intent.version)
            .with_detail("gates", &gates.gates);
        self.record_audit(event).await?;

        let promoted = DeploymentIntent {
            correlation_id: self.promote_id.clone(),
            ring: self.to_ring,
            status: IntentStatus::Approved,
            deployment: None,
            ..intent.clone()
        };
        let outcome = self
            .promoter
            .ports
            .control_plane
            .submit(&promoted)
            .await
            .map_err(|source| RingsError::Submit {
                promote_id: self.promote_id.clone(),
                ring: self.to_ring,
                source: Box::new(source),
            })?;
        tracing::info!(submit_outcome = ?outcome, "promotion submitted");
        Ok(outcome)
    }

    /// Records that the submission announced by the first `PromotionSubmitted` event did not
    /// take effect, because the store already contained `existing`. The journal step is closed
    /// so that a rerun reports the existing intent without recording anything again.
    async fn record_lost_race(&self, existing: &CorrelationId) -> Result<(), RingsError> {
        tracing::warn!(
            existing_intent = %existing,
            "another promotion of this deployment was stored first; nothing submitted"
        );
        let now = self.promoter.ports.clock.now();
        let event = self
            .event(AuditEventType::PromotionSubmitted, Outcome::Failure, now)
            .with_detail("new_intent_id", &self.promote_id)
            .with_detail("already_promoted_as", existing);
        self.record_audit(event).await?;
        self.record_id(StepState::Succeeded).await
    }

    async fn record_id(&self, state: StepState) -> Result<(), RingsError> {
        self.promoter
            .ports
            .journal
            .record(
                self.intent_id,
                &self.id_step,
                state,
                Some(self.promote_id.as_str()),
            )
            .await
            .map_err(|source| RingsError::WriteJournal {
                id: self.intent_id.clone(),
                step: self.id_step.clone(),
                source: Box::new(source),
            })
    }

    fn event(
        &self,
        event_type: AuditEventType,
        outcome: Outcome,
        time: DateTime<Utc>,
    ) -> AuditEvent {
        AuditEvent::new(
            event_type,
            self.promote_id.clone(),
            self.promoter.actor.clone(),
            time,
            outcome,
        )
        .with_related(self.intent_id.clone())
        .with_detail("from_ring", self.from_ring)
        .with_detail("to_ring", self.to_ring)
    }

    async fn record_audit(&self, event: AuditEvent) -> Result<(), RingsError> {
        self.promoter
            .ports
            .audit
            .record(&event)
            .await
            .map_err(|source| RingsError::RecordAudit {
                promote_id: self.promote_id.clone(),
                event: event.event_type,
                source: Box::new(source),
            })
    }

    fn report(&self, gates: Option<GateReport>, outcome: PromotionOutcome) -> PromotionReport {
        PromotionReport {
            promote_id: self.promote_id.clone(),
            intent_id: self.intent_id.clone(),
            from_ring: self.from_ring,
            to_ring: self.to_ring,
            dry_run: self.dry_run,
            gates,
            outcome,
        }
    }
}
