//! Rollback: remove a deployment through every execution plane it used, within the 4-hour SLA.
//!
//! **No logic yet.** The crate exists so the workspace has its final shape; it exports nothing.
//! It will drive `ops_core::ports::ExecutionPlane` adapters concurrently and record each
//! connector's outcome through `ops_core::ports::Journal` so a rerun resumes.
