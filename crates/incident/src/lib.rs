//! Incident response: classify an incident as P0 to P3 and run its playbook.
//!
//! **No logic yet.** The crate exists so the workspace has its final shape; it exports nothing.
//! It will classify incidents with operator-configurable rules and drive playbooks through the
//! `ops_core::ports::{ControlPlane, ExecutionPlane, Notifier, Ticketing, AuditSink}` ports.
