//! The embedded default control plane: a SQLite database in the state directory.
//!
//! `ops` runs with no setup and no network: [`SqliteStore`] implements the
//! [`ControlPlane`](ops_core::ports::ControlPlane) and [`Journal`](ops_core::ports::Journal)
//! ports on a single file, `<state-dir>/ops.db`. Start with [`SqliteStore::open`], then
//! [`intents_file::parse`] and [`SqliteStore::import`] for loading intents from JSON.
//!
//! The schema is versioned with SQLite's `user_version` and migrated forward on open
//! ([`migrations`]). Every write runs in a transaction, so a failed import leaves the store as
//! it was. Calls take a mutex around one connection and run synchronously: the database is
//! local, statements are short, and a single writer is what SQLite wants anyway.

pub mod clock;
pub mod error;
mod incidents;
pub mod intents_file;
pub mod migrations;
mod store;

pub use clock::SystemClock;
pub use error::StoreError;
pub use store::{DATABASE_FILE, ImportMode, ImportSummary, SqliteStore};
