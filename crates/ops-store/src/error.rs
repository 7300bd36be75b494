//! Errors of the embedded store.

use std::path::PathBuf;

use ops_core::{ErrorKind, PortError};

/// A failure of the embedded store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state directory could not be created.
    #[error(
        "cannot create state directory {path:?}: check the path and its permissions, or pass another --state-dir"
    )]
    CreateStateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error("cannot open state database {path:?}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer `ops` whose schema this one does not know.
    #[error(
        "state database {path:?} has schema version {found}, newer than the {supported} this ops supports: upgrade ops"
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// The schema version found.
        found: i64,
        /// The newest schema version this build supports.
        supported: i64,
    },
    /// A migration failed; the transaction was rolled back and the schema is unchanged.
    #[error("migrating state database {path:?} to schema version {version} failed")]
    Migrate {
        /// The database file.
        path: PathBuf,
        /// The schema version being applied.
        version: i64,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// A query failed.
    #[error("state database query failed while {action}")]
    Query {
        /// What the store was doing, such as `listing intents`.
        action: &'static str,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored row could not be read back into the vocabulary, meaning the file was edited by
    /// hand or by another tool.
    #[error("state database row {key:?} has an invalid {column}: {message}")]
    CorruptRow {
        /// The row's key.
        key: String,
        /// The column.
        column: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl StoreError {
    pub(crate) fn query(action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        move |source| StoreError::Query { action, source }
    }
}

impl From<StoreError> for PortError {
    fn from(error: StoreError) -> PortError {
        let kind = match &error {
            StoreError::Query { source, .. } if is_busy(source) => ErrorKind::Transient,
            _ => ErrorKind::Permanent,
        };
        let message = error.to_string();
        PortError::new(kind, "state store", "query", message).with_source(error)
    }
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}
