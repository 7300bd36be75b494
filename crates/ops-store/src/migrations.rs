//! Schema migrations, applied in order on open.
//!
//! The schema version is SQLite's `user_version`. Migration `n` (1-based) brings the schema
//! from version `n - 1` to `n` inside one transaction, so a failed migration leaves the
//! previous schema intact. Migrations are append-only: a released migration is never edited.

use std::path::Path;

use rusqlite::Connection;

use crate::StoreError;

/// The migrations, oldest first.
pub const MIGRATIONS: &[&str] = &[
    // 1: intents, their event history, evidence packs and the operation journal.
    r#"
    CREATE TABLE intents (
        correlation_id    TEXT PRIMARY KEY NOT NULL,
        application_id    TEXT NOT NULL,
        app_name          TEXT NOT NULL,
        version           TEXT NOT NULL,
        ring              TEXT NOT NULL,
        platform          TEXT NOT NULL,
        version_scheme    TEXT,
        connectors        TEXT NOT NULL,
        status            TEXT NOT NULL,
        devices_targeted  INTEGER,
        devices_succeeded INTEGER,
        devices_failed    INTEGER,
        deployed_at       TEXT,
        created_at        TEXT NOT NULL,
        updated_at        TEXT NOT NULL
    ) STRICT;
    CREATE INDEX intents_by_ring ON intents (ring, app_name, version);

    CREATE TABLE events (
        id             INTEGER PRIMARY KEY,
        correlation_id TEXT NOT NULL,
        event_type     TEXT NOT NULL,
        detail         TEXT,
        recorded_at    TEXT NOT NULL
    ) STRICT;
    CREATE INDEX events_by_time ON events (recorded_at);

    CREATE TABLE evidence_packs (
        id             TEXT PRIMARY KEY NOT NULL,
        correlation_id TEXT NOT NULL,
        size_bytes     INTEGER NOT NULL,
        created_at     TEXT NOT NULL
    ) STRICT;

    CREATE TABLE journal (
        operation         TEXT NOT NULL,
        step              TEXT NOT NULL,
        state             TEXT NOT NULL,
        detail            TEXT,
        first_recorded_at TEXT NOT NULL,
        updated_at        TEXT NOT NULL,
        sequence          INTEGER NOT NULL,
        PRIMARY KEY (operation, step)
    ) STRICT;
    "#,
    // 2: risk and CAB approval of intents, and incidents.
    r#"
    ALTER TABLE intents ADD COLUMN high_risk INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE intents ADD COLUMN cab_approver TEXT;
    ALTER TABLE intents ADD COLUMN cab_approved_at TEXT;

    CREATE TABLE incidents (
        id         TEXT PRIMARY KEY NOT NULL,
        severity   TEXT NOT NULL,
        deployment TEXT,
        ring       TEXT,
        title      TEXT NOT NULL,
        raised_at  TEXT NOT NULL,
        open       INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX incidents_by_deployment ON incidents (deployment, open);
    "#,
];

/// Returns the schema version this build creates.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the database's schema up to [`latest_version`], and returns the version it had.
pub fn migrate(connection: &mut Connection, path: &Path) -> Result<i64, StoreError> {
    let found: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(StoreError::query("reading the schema version"))?;
    if found > latest_version() {
        return Err(StoreError::SchemaTooNew {
            path: path.to_owned(),
            found,
            supported: latest_version(),
        });
    }

    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as i64 + 1;
        let migrate_error = |source| StoreError::Migrate {
            path: path.to_owned(),
            version,
            source,
        };
        let transaction = connection.transaction().map_err(migrate_error)?;
        transaction.execute_batch(sql).map_err(migrate_error)?;
        transaction
            .pragma_update(None, "user_version", version)
            .map_err(migrate_error)?;
        transaction.commit().map_err(migrate_error)?;
        tracing::debug!(version, "applied state database migration");
    }
    Ok(found)
}
