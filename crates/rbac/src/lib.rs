//! RBAC: the seven groups, PIM for Publishers, separation-of-duties checks and break-glass.
//!
//! **No logic yet.** The crate exists so the workspace has its final shape; it exports nothing.
//! It will work through `ops_core::ports::Directory`.
