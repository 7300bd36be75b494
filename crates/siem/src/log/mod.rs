//! The local audit log: hash-chained JSON lines in numbered segment files.

pub mod checkpoint;
pub mod format;
pub mod segment;
pub mod tail;
pub mod verify;
pub mod writer;
