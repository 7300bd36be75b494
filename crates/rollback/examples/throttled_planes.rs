//! Measures rollback throughput against execution planes that throttle.
//!
//! Usage: `cargo run --release -p rollback --example throttled_planes -- [APPS] [RATE] [MODE]`
//! (defaults: 10,000 applications, 200 calls per second per plane, mode `paced`). Mode
//! `reactive` leaves `rate_limits` empty, so the rollback learns the rate from throttling
//! answers alone, for comparison.
//!
//! Five in-process planes (one per connector) each accept at most RATE removal calls in any
//! one second and answer a call beyond that with a throttling error carrying the exact
//! Retry-After, as an HTTP 429 would. The applications are spread evenly over the planes and
//! rolled back with `Rollback::run_many`, configured with each plane's rate in
//! `rate_limits`. The program prints the calls each plane accepted per second against its
//! allowed rate, and how many calls came too early.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ops_core::error::PortResult;
use ops_core::ports::execution_plane::{RemovalOutcome, RemovalRequest};
use ops_core::ports::{Clock, ExecutionPlane, HealthReport};
use ops_core::rate::RateLimiter;
use ops_core::{
    ConnectorKind, CorrelationId, DeployedApp, DeploymentIntent, ErrorKind, IntentStatus, Platform,
    PortError, Ring,
};
use ops_testkit::{FakeAuditSink, FakeControlPlane, FakeJournal, FakeNotifier};
use rollback::{Rollback, RollbackConfig, RollbackPorts, RunOptions};

/// The real clock.
struct WallClock;

#[async_trait]
impl Clock for WallClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// A plane that enforces its rate like a service behind a rate limiter: at most RATE calls in
/// any one second, with a full second's worth available after a pause.
struct ThrottledPlane {
    kind: ConnectorKind,
    limit: RateLimiter,
    accepted: AtomicU64,
    throttled: AtomicU64,
}

#[async_trait]
impl ExecutionPlane for ThrottledPlane {
    fn kind(&self) -> ConnectorKind {
        self.kind
    }

    async fn remove_application(&self, _request: &RemovalRequest) -> PortResult<RemovalOutcome> {
        let pause = self.limit.reserve(Utc::now());
        if !pause.is_zero() {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            return Err(PortError::new(
                ErrorKind::Throttled,
                self.kind.name(),
                "remove application",
                "HTTP 429",
            )
            .with_retry_after(pause));
        }
        self.accepted.fetch_add(1, Ordering::Relaxed);
        Ok(RemovalOutcome::Removed)
    }

    async fn deployed_applications(&self, _ring: Ring) -> PortResult<Vec<DeployedApp>> {
        Ok(Vec::new())
    }

    async fn health(&self) -> PortResult<HealthReport> {
        Ok(HealthReport {
            healthy: true,
            latency: Duration::ZERO,
            detail: "throttled plane".into(),
        })
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let apps: usize = args
        .next()
        .map(|text| text.parse())
        .transpose()?
        .unwrap_or(10_000);
    let rate: f64 = args
        .next()
        .map(|text| text.parse())
        .transpose()?
        .unwrap_or(200.0);
    let paced = args.next().as_deref() != Some("reactive");

    let planes: Vec<Arc<ThrottledPlane>> = ConnectorKind::ALL
        .into_iter()
        .map(|kind| {
            Arc::new(ThrottledPlane {
                kind,
                limit: RateLimiter::new(rate, rate.ceil() as u32),
                accepted: AtomicU64::new(0),
                throttled: AtomicU64::new(0),
            })
        })
        .collect();
    let intents: Vec<DeploymentIntent> = (0..apps)
        .map(|index| DeploymentIntent {
            correlation_id: CorrelationId::parse(&format!("deploy-bench-{index:06}"))
                .expect("valid id"),
            application_id: format!("app-{index:06}"),
            app_name: format!("Application {index}"),
            version: "1.0".into(),
            ring: Ring::Canary,
            platform: Platform::Windows,
            version_scheme: None,
            connectors: vec![ConnectorKind::ALL[index % ConnectorKind::ALL.len()]],
            status: IntentStatus::Deployed,
            deployment: None,
            high_risk: false,
            cab_approval: None,
        })
        .collect();
    let ids: Vec<CorrelationId> = intents
        .iter()
        .map(|intent| intent.correlation_id.clone())
        .collect();

    let mut config = RollbackConfig::new("bench@localhost");
    config.concurrency = 64;
    if paced {
        config.rate_limits = ConnectorKind::ALL
            .into_iter()
            .map(|kind| (kind, rate))
            .collect();
    }
    let ports = RollbackPorts {
        control_plane: Arc::new(FakeControlPlane::with_intents(intents)),
        execution_planes: planes
            .iter()
            .map(|plane| (plane.kind, plane.clone() as Arc<dyn ExecutionPlane>))
            .collect(),
        journal: Arc::new(FakeJournal::default()),
        audit: Arc::new(FakeAuditSink::default()),
        notifier: Arc::new(FakeNotifier::default()),
        clock: Arc::new(WallClock),
    };
    let service = Rollback::new(ports, config)?;

    let plans: Vec<_> = service
        .plan_many(&ids, None)
        .await?
        .into_iter()
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    let reports = service.run_many(plans, RunOptions::default()).await;
    let elapsed = started.elapsed().as_secs_f64();

    let complete = reports
        .iter()
        .filter(|report| report.as_ref().is_ok_and(|report| report.complete))
        .count();
    let mode = if paced {
        "paced by rate_limits"
    } else {
        "reacting to throttling only"
    };
    println!("rolled back {complete} of {apps} applications in {elapsed:.2} s, {mode}");
    let mut accepted_total = 0;
    let mut throttled_total = 0;
    for plane in &planes {
        let accepted = plane.accepted.load(Ordering::Relaxed);
        let throttled = plane.throttled.load(Ordering::Relaxed);
        accepted_total += accepted;
        throttled_total += throttled;
        println!(
            "{:<10} {accepted:>6} calls  {:>7.1} calls/s of {rate:.0} allowed ({:.1}%)  {throttled} too early",
            plane.kind.name(),
            accepted as f64 / elapsed,
            accepted as f64 / elapsed / rate * 100.0
        );
    }
    println!(
        "all planes {accepted_total} calls  {:.1} calls/s of {:.0} allowed ({:.1}%)  {throttled_total} too early",
        accepted_total as f64 / elapsed,
        rate * planes.len() as f64,
        accepted_total as f64 / elapsed / (rate * planes.len() as f64) * 100.0
    );
    Ok(())
}
