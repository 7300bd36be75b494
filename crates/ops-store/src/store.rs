//! The SQLite implementation of the control-plane and journal ports.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use ops_core::error::PortResult;
use ops_core::intent::DeploymentStatus;
use ops_core::ports::control_plane::{IntentFilter, StoreMetrics, SubmitOutcome};
use ops_core::ports::journal::{JournalEntry, StepState};
use ops_core::ports::{ControlPlane, HealthReport, Journal};
use ops_core::{
    CabApproval, ConnectorKind, CorrelationId, DeploymentIntent, IntentStatus, PortError,
};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use serde::Serialize;

use crate::{StoreError, migrations};

/// The database file's name inside the state directory.
pub const DATABASE_FILE: &str = "ops.db";

/// The embedded control plane: one SQLite database in the state directory.
#[derive(Debug)]
pub struct SqliteStore {
    connection: Mutex<Connection>,
    path: PathBuf,
}

/// Whether an import writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Store the changes.
    Apply,
    /// Compute the summary and roll back.
    DryRun,
}

/// What an import did, record by record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Intents that were new.
    pub created: usize,
    /// Intents already stored with other values, now updated.
    pub updated: usize,
    /// Intents already stored with the same values.
    pub unchanged: usize,
    /// Intents the store has as RolledBack, which an import never revives. Their correlation
    /// ids, so the operator can see which.
    pub kept_rolled_back: Vec<String>,
    /// New intents that approve an application version already rolled back in the same ring,
    /// by correlation id. They are imported, because a new intent is a new decision, but the
    /// operator is warned.
    pub approves_rolled_back_version: Vec<String>,
}

const INTENT_COLUMNS: &str = "correlation_id, application_id, app_name, version, ring, platform, version_scheme, \
     connectors, status, devices_targeted, devices_succeeded, devices_failed, deployed_at, high_risk, cab_approver, \
     cab_approved_at";

impl SqliteStore {
    /// Opens the store in `state_dir`, creating the directory and the database when missing and
    /// migrating the schema to the latest version.
    pub fn open(state_dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(state_dir).map_err(|source| StoreError::CreateStateDir {
            path: state_dir.to_owned(),
            source,
        })?;
        let path = state_dir.join(DATABASE_FILE);
        let open_error = |source| StoreError::Open {
            path: path.clone(),
            source,
        };

        let mut connection = Connection::open(&path).map_err(open_error)?;
        connection
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_error)?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(open_error)?;
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(open_error)?;
        connection
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(open_error)?;
        let previous = migrations::migrate(&mut connection, &path)?;
        tracing::debug!(path = %path.display(), previous_schema = previous, "opened state database");

        Ok(SqliteStore {
            connection: Mutex::new(connection),
            path,
        })
    }

    /// Returns the database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores the intents of a file in one transaction.
    ///
    /// New intents are created, changed ones updated and identical ones left alone, so
    /// importing the same file twice changes nothing the second time. An intent the store
    /// has as RolledBack keeps that status and its values: the version it names was pulled,
    /// and only a new intent with a new correlation id may bring it back.
    ///
    /// `before_commit` receives the summary while the transaction is still open; when it fails,
    /// nothing is stored and its error is returned. The CLI records the audit event there, so
    /// an import whose evidence cannot be written does not happen.
    pub fn import<E: From<StoreError>>(
        &self,
        intents: &[DeploymentIntent],
        now: DateTime<Utc>,
        mode: ImportMode,
        before_commit: impl FnOnce(&ImportSummary) -> Result<(), E>,
    ) -> Result<ImportSummary, E> {
        let mut connection = self.lock();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::query("starting the import"))?;
        let mut summary = ImportSummary::default();

        for intent in intents {
            let stored = select_intent(&transaction, &intent.correlation_id)?;
            match stored {
                None => {
                    if intent.status.is_approved() && was_rolled_back(&transaction, intent)? {
                        summary
                            .approves_rolled_back_version
                            .push(intent.correlation_id.to_string());
                    }
                    insert_intent(&transaction, intent, now)?;
                    record_event(
                        &transaction,
                        &intent.correlation_id,
                        "IntentCreated",
                        None,
                        now,
                    )?;
                    summary.created += 1;
                }
                Some(stored) if stored.status == IntentStatus::RolledBack => {
                    summary
                        .kept_rolled_back
                        .push(intent.correlation_id.to_string());
                }
                Some(stored) if stored == *intent => summary.unchanged += 1,
                Some(_) => {
                    update_intent(&transaction, intent, now)?;
                    record_event(
                        &transaction,
                        &intent.correlation_id,
                        "IntentUpdated",
                        None,
                        now,
                    )?;
                    summary.updated += 1;
                }
            }
        }

        if mode == ImportMode::DryRun {
            // Dropping the transaction rolls it back.
            return Ok(summary);
        }
        before_commit(&summary)?;
        transaction
            .commit()
            .map_err(StoreError::query("committing the import"))?;
        Ok(summary)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction open (rusqlite rolls back
        // on drop), so the connection is still sound and the poison can be ignored.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn list(&self, filter: &IntentFilter) -> Result<Vec<DeploymentIntent>, StoreError> {
        let connection = self.lock();
        let sql = format!("SELECT {INTENT_COLUMNS} FROM intents");
        let mut statement = connection
            .prepare_cached(&sql)
            .map_err(StoreError::query("listing intents"))?;
        let rows = statement
            .query_map([], RawIntent::from_row)
            .map_err(StoreError::query("listing intents"))?;

        let mut intents = Vec::new();
        for row in rows {
            let intent = row
                .map_err(StoreError::query("listing intents"))?
                .into_intent()?;
            if filter.matches(&intent) {
                intents.push(intent);
            }
        }
        intents.sort_by(|left, right| {
            (
                left.ring,
                &left.app_name,
                &left.version,
                &left.correlation_id,
            )
                .cmp(&(
                    right.ring,
                    &right.app_name,
                    &right.version,
                    &right.correlation_id,
                ))
        });
        Ok(intents)
    }
}

pub(crate) fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn select_intent(
    connection: &Connection,
    id: &CorrelationId,
) -> Result<Option<DeploymentIntent>, StoreError> {
    let sql = format!("SELECT {INTENT_COLUMNS} FROM intents WHERE correlation_id = ?1");
    let raw = connection
        .query_row(&sql, [id.as_str()], RawIntent::from_row)
        .optional()
        .map_err(StoreError::query("reading an intent"))?;
    raw.map(RawIntent::into_intent).transpose()
}

/// Returns true when the store has a RolledBack intent for the same application, version and
/// ring as `intent`.
fn was_rolled_back(connection: &Connection, intent: &DeploymentIntent) -> Result<bool, StoreError> {
    let count: i64 = connection
        .query_row(
            "SELECT COUNT(*) FROM intents WHERE application_id = ?1 AND version = ?2 AND ring = ?3 AND status = ?4",
            params![
                intent.application_id,
                intent.version,
                intent.ring.name(),
                IntentStatus::RolledBack.name()
            ],
            |row| row.get(0),
        )
        .map_err(StoreError::query("checking for a rolled-back version"))?;
    Ok(count > 0)
}

fn intent_values(intent: &DeploymentIntent) -> [Box<dyn rusqlite::ToSql + '_>; 16] {
    let deployment = intent.deployment;
    [
        Box::new(intent.correlation_id.as_str()),
        Box::new(intent.application_id.as_str()),
        Box::new(intent.app_name.as_str()),
        Box::new(intent.version.as_str()),
        Box::new(intent.ring.name()),
        Box::new(intent.platform.name()),
        Box::new(intent.version_scheme.map(|scheme| scheme.name())),
        Box::new(
            intent
                .connectors
                .iter()
                .map(|connector| connector.name())
                .collect::<Vec<_>>()
                .join(","),
        ),
        Box::new(intent.status.name()),
        Box::new(deployment.map(|status| status.devices_targeted as i64)),
        Box::new(deployment.map(|status| status.devices_succeeded as i64)),
        Box::new(deployment.map(|status| status.devices_failed as i64)),
        Box::new(
            deployment
                .and_then(|status| status.deployed_at)
                .map(timestamp),
        ),
        Box::new(intent.high_risk),
        Box::new(
            intent
                .cab_approval
                .as_ref()
                .map(|approval| approval.approver.as_str()),
        ),
        Box::new(
            intent
                .cab_approval
                .as_ref()
                .map(|approval| timestamp(approval.approved_at)),
        ),
    ]
}

fn insert_intent(
    transaction: &Transaction<'_>,
    intent: &DeploymentIntent,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let values = intent_values(intent);
    let now = timestamp(now);
    let mut parameters: Vec<&dyn rusqlite::ToSql> =
        values.iter().map(|value| value.as_ref()).collect();
    parameters.push(&now);
    parameters.push(&now);
    let sql = format!(
        "INSERT INTO intents ({INTENT_COLUMNS}, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
    );
    transaction
        .execute(&sql, parameters.as_slice())
        .map_err(StoreError::query("inserting an intent"))?;
    Ok(())
}

fn update_intent(
    transaction: &Transaction<'_>,
    intent: &DeploymentIntent,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let values = intent_values(intent);
    let now = timestamp(now);
    let mut parameters: Vec<&dyn rusqlite::ToSql> =
        values.iter().map(|value| value.as_ref()).collect();
    parameters.push(&now);
    transaction
        .execute(
            "UPDATE intents SET application_id = ?2, app_name = ?3, version = ?4, ring = ?5, platform = ?6, \
             version_scheme = ?7, connectors = ?8, status = ?9, devices_targeted = ?10, \
             devices_succeeded = ?11, devices_failed = ?12, deployed_at = ?13, high_risk = ?14, \
             cab_approver = ?15, cab_approved_at = ?16, updated_at = ?17 \
             WHERE correlation_id = ?1",
            parameters.as_slice(),
        )
        .map_err(StoreError::query("updating an intent"))?;
    Ok(())
}

fn record_event(
    connection: &Connection,
    id: &CorrelationId,
    event_type: &str,
    detail: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    connection
        .execute(
            "INSERT INTO events (correlation_id, event_type, detail, recorded_at) VALUES (?1, ?2, ?3, ?4)",
            params![id.as_str(), event_type, detail, timestamp(now)],
        )
        .map_err(StoreError::query("recording an event"))?;
    Ok(())
}

/// An intents row as stored, before its names are parsed back into the vocabulary.
struct RawIntent {
    correlation_id: String,
    application_id: String,
    app_name: String,
    version: String,
    ring: String,
    platform: String,
    version_scheme: Option<String>,
    connectors: String,
    status: String,
    devices_targeted: Option<i64>,
    devices_succeeded: Option<i64>,
    devices_failed: Option<i64>,
    deployed_at: Option<String>,
    high_risk: bool,
    cab_approver: Option<String>,
    cab_approved_at: Option<String>,
}

impl RawIntent {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<RawIntent> {
        Ok(RawIntent {
            correlation_id: row.get(0)?,
            application_id: row.get(1)?,
            app_name: row.get(2)?,
            version: row.get(3)?,
            ring: row.get(4)?,
            platform: row.get(5)?,
            version_scheme: row.get(6)?,
            connectors: row.get(7)?,
            status: row.get(8)?,
            devices_targeted: row.get(9)?,
            devices_succeeded: row.get(10)?,
            devices_failed: row.get(11)?,
            deployed_at: row.get(12)?,
            high_risk: row.get(13)?,
            cab_approver: row.get(14)?,
            cab_approved_at: row.get(15)?,
        })
    }

    fn into_intent(self) -> Result<DeploymentIntent, StoreError> {
        let key = self.correlation_id.clone();
        let corrupt = |column: &'static str| {
            let key = key.clone();
            move |error: &dyn std::fmt::Display| StoreError::CorruptRow {
                key,
                column,
                message: error.to_string(),
            }
        };

        let correlation_id = CorrelationId::parse(&self.correlation_id)
            .map_err(|e| corrupt("correlation_id")(&e))?;
        let ring = self.ring.parse().map_err(|e| corrupt("ring")(&e))?;
        let platform = self.platform.parse().map_err(|e| corrupt("platform")(&e))?;
        let status = self.status.parse().map_err(|e| corrupt("status")(&e))?;
        let version_scheme = self
            .version_scheme
            .map(|scheme| scheme.parse())
            .transpose()
            .map_err(|e| corrupt("version_scheme")(&e))?;
        let connectors = self
            .connectors
            .split(',')
            .filter(|name| !name.is_empty())
            .map(str::parse::<ConnectorKind>)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| corrupt("connectors")(&e))?;
        let deployed_at = self
            .deployed_at
            .map(|text| DateTime::parse_from_rfc3339(&text).map(|time| time.with_timezone(&Utc)))
            .transpose()
            .map_err(|e| corrupt("deployed_at")(&e))?;
        let cab_approval = match (self.cab_approver, self.cab_approved_at) {
            (Some(approver), Some(approved_at)) => Some(CabApproval {
                approver,
                approved_at: DateTime::parse_from_rfc3339(&approved_at)
                    .map_err(|e| corrupt("cab_approved_at")(&e))?
                    .with_timezone(&Utc),
            }),
            _ => None,
        };
        let any_reported = self.devices_targeted.is_some()
            || self.devices_succeeded.is_some()
            || self.devices_failed.is_some()
            || deployed_at.is_some();
        let count = |value: Option<i64>| value.unwrap_or(0).max(0) as u64;
        let deployment = any_reported.then(|| DeploymentStatus {
            devices_targeted: count(self.devices_targeted),
            devices_succeeded: count(self.devices_succeeded),
            devices_failed: count(self.devices_failed),
            deployed_at,
        });

        Ok(DeploymentIntent {
            correlation_id,
            application_id: self.application_id,
            app_name: self.app_name,
            version: self.version,
            ring,
            platform,
            version_scheme,
            connectors,
            status,
            deployment,
            high_risk: self.high_risk,
            cab_approval,
        })
    }
}

#[async_trait]
impl ControlPlane for SqliteStore {
    async fn intent(&self, id: &CorrelationId) -> PortResult<Option<DeploymentIntent>> {
        let connection = self.lock();
        Ok(select_intent(&connection, id)?)
    }

    async fn intents(&self, filter: &IntentFilter) -> PortResult<Vec<DeploymentIntent>> {
        Ok(self.list(filter)?)
    }

    async fn update_status(&self, id: &CorrelationId, status: IntentStatus) -> PortResult<()> {
        let now = Utc::now();
        let mut connection = self.lock();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::query("starting a status update"))?;
        let changed = transaction
            .execute(
                "UPDATE intents SET status = ?2, updated_at = ?3 WHERE correlation_id = ?1",
                params![id.as_str(), status.name(), timestamp(now)],
            )
            .map_err(StoreError::query("updating an intent's status"))?;
        if changed == 0 {
            return Err(PortError::not_found(
                "state store",
                "update intent status",
                format!("no intent has correlation id {id}"),
            ));
        }
        record_event(
            &transaction,
            id,
            "IntentStatusUpdated",
            Some(status.name()),
            now,
        )?;
        transaction
            .commit()
            .map_err(StoreError::query("committing a status update"))?;
        Ok(())
    }

    async fn deployment_status(&self, id: &CorrelationId) -> PortResult<Option<DeploymentStatus>> {
        let connection = self.lock();
        Ok(select_intent(&connection, id)?.and_then(|intent| intent.deployment))
    }

    async fn submit(&self, intent: &DeploymentIntent) -> PortResult<SubmitOutcome> {
        let now = Utc::now();
        let mut connection = self.lock();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::query("starting a submission"))?;
        if select_intent(&transaction, &intent.correlation_id)?.is_some() {
            return Ok(SubmitOutcome::AlreadyExists);
        }
        // One approved intent per application, version and ring: a second submission of the
        // same deployment, such as two promotions racing, is refused whatever its id.
        let approved: Vec<String> = IntentStatus::ALL
            .into_iter()
            .filter(|status| status.is_approved())
            .map(|status| format!("'{}'", status.name()))
            .collect();
        let duplicate_sql = format!(
            "SELECT COUNT(*) FROM intents WHERE application_id = ?1 AND version = ?2 AND ring = ?3 AND status IN ({})",
            approved.join(", ")
        );
        let duplicates: i64 = transaction
            .query_row(
                &duplicate_sql,
                params![intent.application_id, intent.version, intent.ring.name()],
                |row| row.get(0),
            )
            .map_err(StoreError::query("checking for the same deployment"))?;
        if duplicates > 0 && intent.status.is_approved() {
            return Ok(SubmitOutcome::AlreadyExists);
        }
        insert_intent(&transaction, intent, now)?;
        record_event(
            &transaction,
            &intent.correlation_id,
            "IntentSubmitted",
            None,
            now,
        )?;
        transaction
            .commit()
            .map_err(StoreError::query("committing a submission"))?;
        Ok(SubmitOutcome::Created)
    }

    async fn health(&self) -> PortResult<HealthReport> {
        let started = Instant::now();
        let connection = self.lock();
        let check: String = connection
            .query_row("PRAGMA quick_check", [], |row| row.get(0))
            .map_err(StoreError::query("checking database integrity"))?;
        Ok(HealthReport {
            healthy: check == "ok",
            latency: started.elapsed(),
            detail: format!("sqlite quick_check: {check}"),
        })
    }

    async fn store_metrics(&self) -> PortResult<StoreMetrics> {
        let day_ago = timestamp(Utc::now() - ChronoDuration::days(1));
        let connection = self.lock();
        let count = |sql: &str, parameters: &[&dyn rusqlite::ToSql]| -> Result<u64, StoreError> {
            connection
                .query_row(sql, parameters, |row| row.get::<_, i64>(0))
                .map(|value| value.max(0) as u64)
                .map_err(StoreError::query("counting store metrics"))
        };
        Ok(StoreMetrics {
            event_count: count("SELECT COUNT(*) FROM events", &[])?,
            events_last_day: count(
                "SELECT COUNT(*) FROM events WHERE recorded_at >= ?1",
                &[&day_ago],
            )?,
            evidence_pack_count: count("SELECT COUNT(*) FROM evidence_packs", &[])?,
            evidence_bytes: count(
                "SELECT COALESCE(SUM(size_bytes), 0) FROM evidence_packs",
                &[],
            )?,
        })
    }
}

fn step_state_name(state: StepState) -> &'static str {
    match state {
        StepState::Started => "Started",
        StepState::Succeeded => "Succeeded",
        StepState::Failed => "Failed",
    }
}

fn parse_step_state(text: &str) -> Option<StepState> {
    match text {
        "Started" => Some(StepState::Started),
        "Succeeded" => Some(StepState::Succeeded),
        "Failed" => Some(StepState::Failed),
        _ => None,
    }
}

#[async_trait]
impl Journal for SqliteStore {
    async fn record(
        &self,
        operation: &CorrelationId,
        step: &str,
        state: StepState,
        detail: Option<&str>,
    ) -> PortResult<()> {
        let now = timestamp(Utc::now());
        let connection = self.lock();
        connection
            .execute(
                "INSERT INTO journal (operation, step, state, detail, first_recorded_at, updated_at, sequence) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, \
                         (SELECT COALESCE(MAX(sequence), 0) + 1 FROM journal WHERE operation = ?1)) \
                 ON CONFLICT (operation, step) DO UPDATE SET \
                     state = excluded.state, detail = excluded.detail, updated_at = excluded.updated_at",
                params![operation.as_str(), step, step_state_name(state), detail, now],
            )
            .map_err(StoreError::query("recording a journal step"))?;
        Ok(())
    }

    async fn steps(&self, operation: &CorrelationId) -> PortResult<Vec<JournalEntry>> {
        let connection = self.lock();
        let mut statement = connection
            .prepare_cached(
                "SELECT step, state, detail, updated_at FROM journal WHERE operation = ?1 ORDER BY sequence",
            )
            .map_err(StoreError::query("reading the journal"))?;
        let rows = statement
            .query_map([operation.as_str()], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })
            .map_err(StoreError::query("reading the journal"))?;

        let mut entries = Vec::new();
        for row in rows {
            let (step, state, detail, updated_at) =
                row.map_err(StoreError::query("reading the journal"))?;
            let corrupt = |column: &'static str, message: String| StoreError::CorruptRow {
                key: format!("{operation}/{step}"),
                column,
                message,
            };
            let state = parse_step_state(&state)
                .ok_or_else(|| corrupt("state", format!("unknown step state {state:?}")))?;
            let updated_at = DateTime::parse_from_rfc3339(&updated_at)
                .map_err(|error| corrupt("updated_at", error.to_string()))?
                .with_timezone(&Utc);
            entries.push(JournalEntry {
                operation: operation.clone(),
                step,
                state,
                detail,
                updated_at,
            });
        }
        Ok(entries)
    }
}
