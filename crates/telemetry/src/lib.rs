//! Telemetry: control-plane and connector health, store metrics, export to the SIEM and metrics
//! backends.
//!
//! **No logic yet.** The crate exists so the workspace has its final shape; it exports nothing.
//! It will check `ops_core::ports::ControlPlane` and every `ExecutionPlane` concurrently and send
//! results through `ops_core::ports::MetricsExporter`.
