//! Adapters between `ops` and the systems that install software on devices.
//!
//! The execution-plane adapters (Intune, Jamf, Configuration Manager, Landscape and Ansible)
//! will live in their own modules. For now the crate provides the offline execution plane:
//! [`inventory`] reads what is installed from export files of those systems and of osquery
//! and dpkg, so `ops drift` can compare a ring's approved intents with real devices without
//! network access.

pub mod inventory;

pub use inventory::{
    InventoryError, InventoryFormat, InventorySource, ReadSummary, SkippedRows, read_inventory,
};
