//! The clock port: the only source of time for the domains.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Tells the time and waits. Injected so that deadlines (the 4-hour rollback SLA, bake times,
/// secret ages) and retry pauses can be tested without waiting.
#[async_trait]
pub trait Clock: Send + Sync {
    /// Returns the current time in UTC.
    fn now(&self) -> DateTime<Utc>;

    /// Waits for `duration`. A fake clock may return at once and advance its time instead.
    async fn sleep(&self, duration: Duration);
}
