//! Secrets: rotate service-principal secrets, renew certificates and rotate signing keys.
//!
//! **No logic yet.** The crate exists so the workspace has its final shape; it exports nothing.
//! It will rotate through `ops_core::ports::{Directory, SecretStore}` and check connector health
//! before retiring an old credential.
