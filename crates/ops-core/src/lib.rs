//! The shared vocabulary and the port traits of `ops`.
//!
//! Every domain crate (`drift`, `rollback`, `rings`, ...) depends on this crate and on no other
//! crate of the workspace. The domains meet only through the types and traits defined here, so
//! each can be built, versioned and tested on its own.
//!
//! Start with [`ports`]: one trait per external capability (control plane, execution plane,
//! audit sink, notifier, ...). Adapters implement them at the edge (`ops-store`, `connectors`,
//! `siem`), and `ops-bin` wires adapters into domains. The vocabulary they exchange lives in
//! [`ring`], [`severity`], [`connector`], [`correlation`], [`intent`], [`inventory`],
//! [`version`] and [`audit`]. Failures of ports are [`PortError`]s, which tell transient from
//! permanent failures and carry a Retry-After hint that [`retry::RetryPolicy`] honours.
//!
//! **This crate does no I/O.** Time comes from the [`ports::Clock`] port and randomness only
//! feeds retry jitter.

pub mod audit;
pub mod connector;
pub mod correlation;
pub mod error;
pub mod intent;
pub mod inventory;
pub mod ports;
pub mod rate;
pub mod retry;
pub mod ring;
pub mod severity;
pub mod version;

pub use connector::ConnectorKind;
pub use correlation::CorrelationId;
pub use error::{ErrorKind, PortError};
pub use intent::{CabApproval, DeploymentIntent, IntentStatus, Platform};
pub use inventory::{DeployedApp, Inventory};
pub use ring::Ring;
pub use severity::Severity;
pub use version::{Version, VersionError, VersionScheme};
