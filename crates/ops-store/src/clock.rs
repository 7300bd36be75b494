//! The system clock adapter.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ops_core::ports::Clock;

/// The real clock: the system's UTC time and tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}
