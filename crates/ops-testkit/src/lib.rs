//! In-memory fakes of every `ops-core` port, for the tests of every crate.
//!
//! Each fake keeps its state behind a mutex, records the calls worth asserting on, and can be
//! told to fail: [`Failures`] queues failures (a 429 with Retry-After, a transient 503, a
//! timeout, a permanent error) that the next calls return, in order. Prefer these fakes to
//! mocks: a test then states the situation, not the call sequence. Keep mockall for tests whose
//! point is the interaction itself.
//!
//! This crate is for dev-dependencies only; nothing in it is fit for production.

mod assertions;
mod clock;
mod control_plane;
mod directory;
mod execution_plane;
mod failover;
mod failures;
mod incidents;
mod secrets;
mod sinks;

pub use assertions::assert_port_error;
pub use clock::FakeClock;
pub use control_plane::{FakeControlPlane, FakeJournal};
pub use directory::FakeDirectory;
pub use execution_plane::FakeExecutionPlane;
pub use failover::{FakeFailoverGroup, FakeRegionHealth};
pub use failures::{Failure, Failures};
pub use incidents::FakeIncidents;
pub use secrets::FakeSecretStore;
pub use sinks::{FakeAuditSink, FakeMetricsExporter, FakeNotifier, FakeTicketing};
