//! Ring promotion: move a deployment one ring out once its gates are met.
//!
//! **No logic yet.** The crate exists so the workspace has its final shape; it exports nothing.
//! It will read measurements from `ops_core::ports::ControlPlane::deployment_status` and submit
//! promoted intents through the same port.
