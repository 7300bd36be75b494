//! Behaviour tests of `FakeDirectory` against the contract of the `Directory` port.

use std::time::Duration;

use ops_core::ErrorKind;
use ops_core::ports::Directory;
use ops_core::ports::directory::{PimPolicy, Principal};
use ops_testkit::{Failure, FakeDirectory, assert_port_error};

const DAY: Duration = Duration::from_secs(24 * 3600);

fn principal(id: &str, display_name: &str) -> Principal {
    Principal {
        id: id.to_owned(),
        display_name: display_name.to_owned(),
    }
}

fn policy() -> PimPolicy {
    PimPolicy {
        max_activation: Duration::from_secs(8 * 3600),
        require_mfa: true,
        require_justification: true,
    }
}

#[tokio::test]
async fn created_group_is_found() {
    let directory = FakeDirectory::default();

    let group = directory
        .create_group("Publishers", "Publish applications")
        .await
        .unwrap();

    assert_eq!(group.display_name, "Publishers");
    assert_eq!(directory.find_groups("Publishers").await.unwrap(), [group]);
}

#[tokio::test]
async fn find_groups_matches_exact_name() {
    let directory = FakeDirectory::default();
    let publishers = directory.create_group("Publishers", "").await.unwrap();
    directory
        .create_group("Publishers-Admins", "")
        .await
        .unwrap();

    let found = directory.find_groups("Publishers").await.unwrap();

    assert_eq!(found, [publishers]);
    assert!(
        directory
            .find_groups("publishers")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(directory.find_groups("Approvers").await.unwrap().is_empty());
}

#[tokio::test]
async fn duplicate_group_names_all_found() {
    let directory = FakeDirectory::default();
    let first = directory.create_group("Publishers", "").await.unwrap();
    let second = directory.create_group("Publishers", "").await.unwrap();

    let found = directory.find_groups("Publishers").await.unwrap();

    assert_ne!(first.id, second.id);
    assert_eq!(found, [first, second]);
}

#[tokio::test]
async fn groups_lists_creation_order() {
    let directory = FakeDirectory::default();
    let publishers = directory.create_group("Publishers", "").await.unwrap();
    let approvers = directory.create_group("Approvers", "").await.unwrap();

    assert_eq!(directory.groups(), [publishers, approvers]);
}

#[tokio::test]
async fn members_lists_added_principals() {
    let directory = FakeDirectory::default();
    let alice = principal("user-1", "alice@example.com");
    let pipeline = principal("sp-1", "release-pipeline");
    directory.add_member("group-1", alice.clone());
    directory.add_member("group-1", pipeline.clone());
    directory.add_member("group-2", principal("user-2", "bob@example.com"));

    let members = directory.members("group-1").await.unwrap();

    assert_eq!(members.len(), 2);
    assert!(members.contains(&alice));
    assert!(members.contains(&pipeline));
}

#[tokio::test]
async fn repeated_member_listed_once() {
    let directory = FakeDirectory::default();
    let alice = principal("user-1", "alice@example.com");
    directory.add_member("group-1", alice.clone());
    directory.add_member("group-1", alice.clone());

    assert_eq!(directory.members("group-1").await.unwrap(), [alice]);
}

#[tokio::test]
async fn unknown_group_has_no_members() {
    let directory = FakeDirectory::default();

    assert!(directory.members("group-9").await.unwrap().is_empty());
}

#[tokio::test]
async fn added_credential_is_listed() {
    let directory = FakeDirectory::default();

    let added = directory
        .add_credential("app-1", "rotation 2026-01", 90 * DAY)
        .await
        .unwrap();

    assert_eq!(directory.credentials("app-1").await.unwrap(), [added.info]);
}

#[tokio::test]
async fn added_credential_ends_after_lifetime() {
    let directory = FakeDirectory::default();

    let added = directory
        .add_credential("app-1", "rotation 2026-01", 90 * DAY)
        .await
        .unwrap();

    let start = added.info.start.unwrap();
    let end = added.info.end.unwrap();
    assert_eq!(end - start, chrono::Duration::days(90));
    assert_eq!(added.info.display_name.as_deref(), Some("rotation 2026-01"));
}

#[tokio::test]
async fn added_credential_returns_secret() {
    let directory = FakeDirectory::default();

    let first = directory.add_credential("app-1", "a", DAY).await.unwrap();
    let second = directory.add_credential("app-1", "b", DAY).await.unwrap();

    assert!(!first.secret.expose().is_empty());
    assert_ne!(first.secret, second.secret);
    assert_ne!(first.info.key_id, second.info.key_id);
}

#[tokio::test]
async fn credentials_kept_per_application() {
    let directory = FakeDirectory::default();
    directory.add_credential("app-1", "a", DAY).await.unwrap();

    assert!(directory.credentials("app-2").await.unwrap().is_empty());
}

#[tokio::test]
async fn remove_credential_removes_only_that_key() {
    let directory = FakeDirectory::default();
    let old = directory.add_credential("app-1", "old", DAY).await.unwrap();
    let new = directory.add_credential("app-1", "new", DAY).await.unwrap();

    directory
        .remove_credential("app-1", &old.info.key_id)
        .await
        .unwrap();

    assert_eq!(directory.credentials("app-1").await.unwrap(), [new.info]);
}

#[tokio::test]
async fn removing_absent_credential_succeeds() {
    let directory = FakeDirectory::default();
    let kept = directory
        .add_credential("app-1", "kept", DAY)
        .await
        .unwrap();

    directory.remove_credential("app-1", "key-9").await.unwrap();
    directory.remove_credential("app-9", "key-1").await.unwrap();

    assert_eq!(directory.credentials("app-1").await.unwrap(), [kept.info]);
}

#[tokio::test]
async fn key_ids_unique_after_removal() {
    let directory = FakeDirectory::default();
    let first = directory
        .add_credential("app-1", "first", DAY)
        .await
        .unwrap();
    let second = directory
        .add_credential("app-1", "second", DAY)
        .await
        .unwrap();
    directory
        .remove_credential("app-1", &first.info.key_id)
        .await
        .unwrap();

    let third = directory
        .add_credential("app-1", "third", DAY)
        .await
        .unwrap();
    directory
        .remove_credential("app-1", &third.info.key_id)
        .await
        .unwrap();

    assert_ne!(third.info.key_id, second.info.key_id);
    assert_eq!(directory.credentials("app-1").await.unwrap(), [second.info]);
}

#[tokio::test]
async fn pim_policy_applies_to_group() {
    let directory = FakeDirectory::default();
    let group = directory.create_group("Publishers", "").await.unwrap();
    assert_eq!(directory.pim_policy(&group.id), None);

    directory
        .set_pim_policy(&group.id, &policy())
        .await
        .unwrap();

    assert_eq!(directory.pim_policy(&group.id), Some(policy()));
}

#[tokio::test]
async fn pim_policy_unknown_group_not_found() {
    let directory = FakeDirectory::default();

    let error = directory
        .set_pim_policy("group-9", &policy())
        .await
        .unwrap_err();

    assert_port_error(&error, ErrorKind::NotFound, "no group has id group-9");
    assert_eq!(directory.pim_policy("group-9"), None);
}

#[tokio::test]
async fn eligible_member_is_not_active() {
    let directory = FakeDirectory::default();
    let group = directory.create_group("Publishers", "").await.unwrap();

    directory
        .add_eligible_member(&group.id, "user-1")
        .await
        .unwrap();

    assert!(directory.is_eligible(&group.id, "user-1"));
    assert!(!directory.is_eligible(&group.id, "user-2"));
    assert!(!directory.is_eligible("group-9", "user-1"));
    assert!(directory.members(&group.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn queued_failure_fails_every_method() {
    let directory = FakeDirectory::default();
    directory
        .failures
        .push(std::iter::repeat_n(Failure::Transient, 8));

    let errors = [
        directory.find_groups("Publishers").await.unwrap_err(),
        directory.create_group("Publishers", "").await.unwrap_err(),
        directory.members("group-1").await.unwrap_err(),
        directory.credentials("app-1").await.unwrap_err(),
        directory
            .add_credential("app-1", "a", DAY)
            .await
            .unwrap_err(),
        directory
            .remove_credential("app-1", "key-1")
            .await
            .unwrap_err(),
        directory
            .set_pim_policy("group-1", &policy())
            .await
            .unwrap_err(),
        directory
            .add_eligible_member("group-1", "user-1")
            .await
            .unwrap_err(),
    ];

    let operations = [
        "directory find groups failed",
        "directory create group failed",
        "directory list members failed",
        "directory list credentials failed",
        "directory add credential failed",
        "directory remove credential failed",
        "directory set PIM policy failed",
        "directory add eligible member failed",
    ];
    for (error, operation) in errors.iter().zip(operations) {
        assert_port_error(error, ErrorKind::Transient, operation);
    }
    assert!(directory.find_groups("Publishers").await.is_ok());
}

#[tokio::test]
async fn failed_calls_change_nothing() {
    let directory = FakeDirectory::default();
    let group = directory.create_group("Publishers", "").await.unwrap();
    directory
        .failures
        .push(std::iter::repeat_n(Failure::Permanent, 4));

    assert!(directory.create_group("Approvers", "").await.is_err());
    assert!(directory.add_credential("app-1", "a", DAY).await.is_err());
    assert!(
        directory
            .set_pim_policy(&group.id, &policy())
            .await
            .is_err()
    );
    let eligible = directory.add_eligible_member(&group.id, "user-1").await;
    assert!(eligible.is_err());

    assert_eq!(directory.groups(), std::slice::from_ref(&group));
    assert!(directory.credentials("app-1").await.unwrap().is_empty());
    assert_eq!(directory.pim_policy(&group.id), None);
    assert!(!directory.is_eligible(&group.id, "user-1"));
}

#[tokio::test]
async fn failed_removal_keeps_credential() {
    let directory = FakeDirectory::default();
    let added = directory.add_credential("app-1", "a", DAY).await.unwrap();
    directory.failures.push([Failure::Timeout]);

    let error = directory
        .remove_credential("app-1", &added.info.key_id)
        .await
        .unwrap_err();

    assert_port_error(&error, ErrorKind::Transient, "timed out");
    assert_eq!(directory.credentials("app-1").await.unwrap(), [added.info]);
}

#[tokio::test]
async fn throttled_failure_carries_retry_after() {
    let directory = FakeDirectory::default();
    directory
        .failures
        .push([Failure::Throttled(Duration::from_secs(7))]);

    let error = directory.find_groups("Publishers").await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Throttled);
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
    assert!(directory.find_groups("Publishers").await.is_ok());
}
