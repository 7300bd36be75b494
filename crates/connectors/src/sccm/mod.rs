//! The sccm adapter of the execution-plane port; being written.

/// Configuration of this adapter; being written.
#[derive(Debug, Default, serde::Deserialize)]
pub struct SccmConfig {}
