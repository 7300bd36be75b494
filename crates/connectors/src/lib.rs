//! Adapters between `ops` and the systems that install software on devices.
//!
//! Two kinds of execution plane live here:
//!
//! - The five real adapters of the [`ExecutionPlane`](ops_core::ports::ExecutionPlane) port,
//!   each behind a cargo feature of the same name, all on by default: [`intune`] (Microsoft
//!   Graph), [`jamf`] (Jamf Pro), [`sccm`] (the Configuration Manager AdminService),
//!   [`landscape`] (Canonical Landscape) and [`awx`] (Ansible AWX or the Automation Platform
//!   controller). They share the HTTP plumbing of `ops-http`. [`config`] holds their
//!   configuration.
//! - The offline execution plane: [`inventory`] reads what is installed from export files of
//!   those systems and of osquery and dpkg, so `ops drift` can compare a ring's approved
//!   intents with real devices without network access.

#[cfg(feature = "awx")]
pub mod awx;
pub mod config;
#[cfg(feature = "intune")]
pub mod intune;
pub mod inventory;
#[cfg(feature = "jamf")]
pub mod jamf;
#[cfg(feature = "landscape")]
pub mod landscape;
#[cfg(feature = "sccm")]
pub mod sccm;

pub use inventory::{
    InventoryError, InventoryFormat, InventorySource, ReadSummary, SkippedRows, read_inventory,
};
