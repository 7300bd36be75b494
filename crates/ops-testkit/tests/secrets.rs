//! Behaviour tests of `FakeSecretStore` against the contract of the `SecretStore` port.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ops_core::ErrorKind;
use ops_core::ports::{Secret, SecretStore};
use ops_testkit::{Failure, FakeSecretStore, assert_port_error};

fn expiry(days: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap() + chrono::Duration::days(days)
}

/// Stores `good`, then `bad`, as versions of `client-secret`, and returns both version ids.
async fn good_then_bad(store: &FakeSecretStore) -> (String, String) {
    let good = store
        .set("client-secret", &Secret::new("good"), None)
        .await
        .unwrap();
    let bad = store
        .set("client-secret", &Secret::new("bad"), None)
        .await
        .unwrap();
    (good, bad)
}
#[tokio::test]
async fn missing_secret_gets_none() {
    let store = FakeSecretStore::default();

    assert_eq!(store.get("client-secret").await.unwrap(), None);
}

#[tokio::test]
async fn set_secret_becomes_current() {
    let store = FakeSecretStore::default();
    store
        .set("client-secret", &Secret::new("old"), None)
        .await
        .unwrap();

    let version = store
        .set("client-secret", &Secret::new("new"), Some(expiry(90)))
        .await
        .unwrap();

    let current = store.get("client-secret").await.unwrap().unwrap();
    assert_eq!(current.version, version);
    assert_eq!(current.value.expose(), "new");
    assert_eq!(current.expires, Some(expiry(90)));
    assert!(current.created.is_some());
}

#[tokio::test]
async fn set_returns_distinct_versions() {
    let store = FakeSecretStore::default();
    let secret = Secret::new("same value");

    let first = store.set("client-secret", &secret, None).await.unwrap();
    let second = store.set("client-secret", &secret, None).await.unwrap();

    assert_ne!(first, second);
}

#[tokio::test]
async fn versions_list_newest_first() {
    let store = FakeSecretStore::default();
    let mut set_versions = Vec::new();
    for value in ["one", "two", "three"] {
        let version = store
            .set("client-secret", &Secret::new(value), None)
            .await
            .unwrap();
        set_versions.push(version);
    }

    let versions = store.versions("client-secret").await.unwrap();

    let listed: Vec<String> = versions.iter().map(|info| info.version.clone()).collect();
    set_versions.reverse();
    assert_eq!(listed, set_versions);
    assert!(versions.iter().all(|info| info.enabled));
    assert!(versions.iter().all(|info| info.created.is_some()));
}

#[tokio::test]
async fn missing_secret_has_no_versions() {
    let store = FakeSecretStore::default();

    assert!(store.versions("client-secret").await.unwrap().is_empty());
}

#[tokio::test]
async fn secrets_kept_per_name() {
    let store = FakeSecretStore::default();
    store
        .set("client-secret", &Secret::new("client"), None)
        .await
        .unwrap();
    store
        .set("signing-key", &Secret::new("signing"), None)
        .await
        .unwrap();

    let client = store.get("client-secret").await.unwrap().unwrap();
    let signing = store.get("signing-key").await.unwrap().unwrap();

    assert_eq!(client.value.expose(), "client");
    assert_eq!(signing.value.expose(), "signing");
    assert_eq!(store.versions("client-secret").await.unwrap().len(), 1);
}

#[tokio::test]
async fn restore_makes_old_value_current() {
    let store = FakeSecretStore::default();
    let good = store
        .set("client-secret", &Secret::new("good"), Some(expiry(90)))
        .await
        .unwrap();
    let bad = store
        .set("client-secret", &Secret::new("bad"), Some(expiry(180)))
        .await
        .unwrap();

    let restored = store.restore_version("client-secret", &good).await.unwrap();

    let current = store.get("client-secret").await.unwrap().unwrap();
    assert_ne!(restored, good);
    assert_ne!(restored, bad);
    assert_eq!(current.version, restored);
    assert_eq!(current.value.expose(), "good");
    assert_eq!(current.expires, Some(expiry(90)));
}

#[tokio::test]
async fn restore_keeps_every_version() {
    let store = FakeSecretStore::default();
    let (good, bad) = good_then_bad(&store).await;

    let restored = store.restore_version("client-secret", &good).await.unwrap();

    let versions = store.versions("client-secret").await.unwrap();
    let listed: Vec<&str> = versions.iter().map(|info| info.version.as_str()).collect();
    assert_eq!(listed, [restored.as_str(), bad.as_str(), good.as_str()]);
}

#[tokio::test]
async fn restore_unknown_version_not_found() {
    let store = FakeSecretStore::default();
    store
        .set("client-secret", &Secret::new("value"), None)
        .await
        .unwrap();

    let error = store
        .restore_version("client-secret", "v9")
        .await
        .unwrap_err();

    assert_port_error(&error, ErrorKind::NotFound, "has no version \"v9\"");
    assert_eq!(store.versions("client-secret").await.unwrap().len(), 1);
}

#[tokio::test]
async fn restore_missing_secret_not_found() {
    let store = FakeSecretStore::default();

    let error = store
        .restore_version("client-secret", "v1")
        .await
        .unwrap_err();

    assert_port_error(&error, ErrorKind::NotFound, "secret \"client-secret\"");
    assert_eq!(store.get("client-secret").await.unwrap(), None);
}

#[tokio::test]
async fn queued_failure_fails_every_method() {
    let store = FakeSecretStore::default();
    store
        .failures
        .push(std::iter::repeat_n(Failure::Unauthorized, 4));
    let value = Secret::new("value");

    let errors = [
        store.get("client-secret").await.unwrap_err(),
        store.set("client-secret", &value, None).await.unwrap_err(),
        store.versions("client-secret").await.unwrap_err(),
        store
            .restore_version("client-secret", "v1")
            .await
            .unwrap_err(),
    ];

    let operations = [
        "secret store get secret failed",
        "secret store set secret failed",
        "secret store list versions failed",
        "secret store restore version failed",
    ];
    for (error, operation) in errors.iter().zip(operations) {
        assert_port_error(error, ErrorKind::Unauthorized, operation);
    }
    assert!(store.get("client-secret").await.is_ok());
}

#[tokio::test]
async fn failed_set_stores_nothing() {
    let store = FakeSecretStore::default();
    store.failures.push([Failure::Transient]);

    let result = store
        .set("client-secret", &Secret::new("value"), None)
        .await;

    assert!(result.is_err());
    assert_eq!(store.get("client-secret").await.unwrap(), None);
}

#[tokio::test]
async fn failed_restore_keeps_current_version() {
    let store = FakeSecretStore::default();
    let (good, bad) = good_then_bad(&store).await;
    store
        .failures
        .push([Failure::Throttled(Duration::from_secs(30))]);

    let error = store
        .restore_version("client-secret", &good)
        .await
        .unwrap_err();

    let current = store.get("client-secret").await.unwrap().unwrap();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(current.version, bad);
}
