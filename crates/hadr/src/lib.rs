//! HA/DR: fail the control plane's Azure SQL failover group over to the secondary region.
//!
//! **No logic yet.** The crate exists so the workspace has its final shape; it exports nothing.
//! It will drive `ops_core::ports::{FailoverGroup, RegionHealth}` and measure the RTO against the
//! `ops_core::ports::Clock`.
