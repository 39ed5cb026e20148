//! The secret store's contract, run against every backend: memory, the local file store (in a
//! temp dir) and Secrets Manager (the real AWS SDK against `moto_server`). Each case is one
//! async function taking an `Arc<dyn SecretStore>`; the `contract!` macro runs it as
//! `memory::<case>`, `file::<case>` and `secrets_manager::<case>`.

use riskflow::secrets::file::FileSecretStore;
use riskflow::secrets::memory::MemorySecretStore;
use riskflow::secrets::{SecretError, SecretStore, SecretValue};
use riskflow::testing::{TempDir, secrets_manager_test_store, unique_name};
use secrecy::{ExposeSecret, SecretString};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

#[derive(Clone, Copy)]
enum Kind {
    Memory,
    File,
    SecretsManager,
}

/// A store under test; keeps the file store's temp dir alive.
struct Fixture {
    store: Arc<dyn SecretStore>,
    _dir: Option<TempDir>,
}

async fn fixture(kind: Kind) -> Fixture {
    match kind {
        Kind::Memory => Fixture {
            store: Arc::new(MemorySecretStore::new()),
            _dir: None,
        },
        Kind::File => {
            let dir = TempDir::new("riskflow-secrets");
            let store = FileSecretStore::open(dir.path().join("data")).unwrap();
            Fixture {
                store: Arc::new(store),
                _dir: Some(dir),
            }
        }
        Kind::SecretsManager => Fixture {
            store: Arc::new(secrets_manager_test_store().await),
            _dir: None,
        },
    }
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let fx = super::fixture(super::Kind::Memory).await;
                    super::$case(fx.store.clone()).await;
                }
            )*
        }
        mod file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let fx = super::fixture(super::Kind::File).await;
                    super::$case(fx.store.clone()).await;
                }
            )*
        }
        mod secrets_manager {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let fx = super::fixture(super::Kind::SecretsManager).await;
                    super::$case(fx.store.clone()).await;
                }
            )*
        }
    };
}

contract!(
    a_put_value_reads_back_current_and_by_version,
    a_second_put_makes_a_new_version_and_the_old_one_stays_readable_by_id,
    a_deleted_secret_is_not_found_and_deleting_again_is_fine,
    create_delete_create_of_one_name_works_at_once,
    an_unknown_secret_or_version_is_not_found,
    names_are_independent,
    values_never_appear_in_debug_output_or_errors,
);

fn secret(v: &str) -> SecretString {
    SecretString::from(v.to_string())
}

fn is_not_found(r: &Result<SecretValue, SecretError>) -> bool {
    matches!(r, Err(SecretError::NotFound { .. }))
}

async fn a_put_value_reads_back_current_and_by_version(store: Arc<dyn SecretStore>) {
    let name = unique_name("riskflow-jira");
    let value = r#"{"email":"bot@acme.com","api_token":"tok-1"}"#;
    let v1 = store.put(&name, &secret(value)).await.unwrap();
    assert!(!v1.is_empty());
    let current = store.get(&name, None).await.unwrap();
    assert_eq!(current.version_id, v1);
    assert_eq!(current.value.expose_secret(), value);
    let by_id = store.get(&name, Some(&v1)).await.unwrap();
    assert_eq!(by_id.version_id, v1);
    assert_eq!(by_id.value.expose_secret(), value);
}

async fn a_second_put_makes_a_new_version_and_the_old_one_stays_readable_by_id(
    store: Arc<dyn SecretStore>,
) {
    let name = unique_name("riskflow-okta");
    let v1 = store.put(&name, &secret("one")).await.unwrap();
    let v2 = store.put(&name, &secret("two")).await.unwrap();
    assert_ne!(v1, v2);
    let current = store.get(&name, None).await.unwrap();
    assert_eq!(
        (current.version_id.as_str(), current.value.expose_secret()),
        (v2.as_str(), "two")
    );
    let old = store.get(&name, Some(&v1)).await.unwrap();
    assert_eq!(
        (old.version_id.as_str(), old.value.expose_secret()),
        (v1.as_str(), "one")
    );
    let new = store.get(&name, Some(&v2)).await.unwrap();
    assert_eq!(new.value.expose_secret(), "two");
}

async fn a_deleted_secret_is_not_found_and_deleting_again_is_fine(store: Arc<dyn SecretStore>) {
    let name = unique_name("riskflow-servicenow");
    let v1 = store.put(&name, &secret("one")).await.unwrap();
    store.delete(&name).await.unwrap();
    assert!(is_not_found(&store.get(&name, None).await));
    assert!(is_not_found(&store.get(&name, Some(&v1)).await));
    store.delete(&name).await.unwrap();
    store.delete(&unique_name("riskflow-never")).await.unwrap();
}

async fn create_delete_create_of_one_name_works_at_once(store: Arc<dyn SecretStore>) {
    let name = unique_name("riskflow-incydr");
    let v1 = store.put(&name, &secret("first")).await.unwrap();
    store.delete(&name).await.unwrap();
    let v2 = store.put(&name, &secret("second")).await.unwrap();
    assert_ne!(v1, v2);
    let current = store.get(&name, None).await.unwrap();
    assert_eq!(current.version_id, v2);
    assert_eq!(current.value.expose_secret(), "second");
    // Nothing of the deleted value comes back.
    assert!(is_not_found(&store.get(&name, Some(&v1)).await));
    // And once more.
    store.delete(&name).await.unwrap();
    let v3 = store.put(&name, &secret("third")).await.unwrap();
    assert_eq!(
        store
            .get(&name, Some(&v3))
            .await
            .unwrap()
            .value
            .expose_secret(),
        "third"
    );
}

async fn an_unknown_secret_or_version_is_not_found(store: Arc<dyn SecretStore>) {
    let name = unique_name("riskflow-adp");
    match store.get(&name, None).await {
        Err(SecretError::NotFound { name: n }) => assert_eq!(n, name),
        other => panic!("expected NotFound, got {other:?}"),
    }
    store.put(&name, &secret("v")).await.unwrap();
    let unknown = "00000000-0000-4000-8000-000000000000";
    assert!(is_not_found(&store.get(&name, Some(unknown)).await));
}

async fn names_are_independent(store: Arc<dyn SecretStore>) {
    let a = unique_name("riskflow-a");
    let b = unique_name("riskflow-b");
    let va = store.put(&a, &secret("alpha")).await.unwrap();
    store.put(&b, &secret("beta")).await.unwrap();
    store.delete(&b).await.unwrap();
    assert_eq!(
        store.get(&a, None).await.unwrap().value.expose_secret(),
        "alpha"
    );
    assert_eq!(
        store
            .get(&a, Some(&va))
            .await
            .unwrap()
            .value
            .expose_secret(),
        "alpha"
    );
    assert!(is_not_found(&store.get(&b, None).await));
    // A version id of one secret does not open another.
    assert!(is_not_found(&store.get(&b, Some(&va)).await));
}

async fn values_never_appear_in_debug_output_or_errors(store: Arc<dyn SecretStore>) {
    let name = unique_name("riskflow-bamboohr");
    let value = "hunter2-very-secret-value";
    let v = store.put(&name, &secret(value)).await.unwrap();
    let read = store.get(&name, None).await.unwrap();
    let shown = format!("{read:?}");
    assert!(!shown.contains(value), "{shown}");
    assert!(shown.contains(&v), "the version id is shown: {shown}");
    assert!(!format!("{:?}", read.value).contains(value));
    store.delete(&name).await.unwrap();
    let err = store.get(&name, None).await.unwrap_err();
    assert!(!format!("{err} {err:?}").contains(value));
}

// ---------------------------------------------------------------- file store

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn file_store_keeps_its_file_0600_in_a_0700_dir_and_leaves_no_temp_files() {
    let tmp = TempDir::new("riskflow-secrets-mode");
    let dir = tmp.path().join("data");
    let store = FileSecretStore::open(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700);
    for i in 0..3 {
        store
            .put("riskflow-jira", &secret(&format!("v{i}")))
            .await
            .unwrap();
    }
    store.delete("riskflow-jira").await.unwrap();
    store.put("riskflow-okta", &secret("x")).await.unwrap();
    assert_eq!(mode(&store.path()), 0o600);
    assert_eq!(mode(&dir), 0o700);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // The writers' lock file stays (empty, owner-only) beside the secrets.
    assert_eq!(names, [".secrets.json.lock", "secrets.json"]);
    let lock = dir.join(".secrets.json.lock");
    assert_eq!(mode(&lock), 0o600);
    assert_eq!(std::fs::metadata(&lock).unwrap().len(), 0);
    // A deleted secret's values are gone from the disk, not just hidden.
    let text = std::fs::read_to_string(store.path()).unwrap();
    assert!(!text.contains("v2"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["riskflow-jira"]["deleted"], true);
    assert_eq!(json["riskflow-okta"]["deleted"], false);
    assert_eq!(json["riskflow-okta"]["versions"][0]["value"], "x");
}

#[tokio::test]
async fn file_store_narrows_a_broader_dir_and_file_mode_on_open() {
    let tmp = TempDir::new("riskflow-secrets-narrow");
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = dir.join("secrets.json");
    std::fs::write(
        &file,
        r#"{"riskflow-jira":{"versions":[{"id":"v-1","value":"old"}],"deleted":false}}"#,
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = FileSecretStore::open(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&file), 0o600);
    let v = store.get("riskflow-jira", Some("v-1")).await.unwrap();
    assert_eq!(v.value.expose_secret(), "old");
}

#[tokio::test]
async fn file_store_keeps_the_last_two_versions() {
    let tmp = TempDir::new("riskflow-secrets-keep");
    let store = FileSecretStore::open(tmp.path()).unwrap();
    let v1 = store.put("s", &secret("one")).await.unwrap();
    let v2 = store.put("s", &secret("two")).await.unwrap();
    let v3 = store.put("s", &secret("three")).await.unwrap();
    assert!(matches!(
        store.get("s", Some(&v1)).await,
        Err(SecretError::NotFound { .. })
    ));
    assert_eq!(
        store
            .get("s", Some(&v2))
            .await
            .unwrap()
            .value
            .expose_secret(),
        "two"
    );
    assert_eq!(store.get("s", None).await.unwrap().version_id, v3);
    assert!(
        !std::fs::read_to_string(store.path())
            .unwrap()
            .contains("one")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_store_concurrent_puts_in_one_process_do_not_lose_each_other() {
    let tmp = TempDir::new("riskflow-secrets-concurrent");
    // Two stores on one dir, as two parts of one process might open it.
    let a = Arc::new(FileSecretStore::open(tmp.path()).unwrap());
    let b = Arc::new(FileSecretStore::open(tmp.path()).unwrap());
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                let name = format!("riskflow-{i}");
                let v = s.put(&name, &secret(&format!("value-{i}"))).await.unwrap();
                (name, v)
            })
        })
        .collect();
    let mut written = Vec::new();
    for t in tasks {
        written.push(t.await.unwrap());
    }
    // A fresh store (a restart) reads every one of them.
    let reopened = FileSecretStore::open(tmp.path()).unwrap();
    for (i, (name, v)) in written.iter().enumerate() {
        let got = reopened.get(name, None).await.unwrap();
        assert_eq!(&got.version_id, v);
        assert_eq!(got.value.expose_secret(), format!("value-{i}"));
    }
}

/// Where a [`file_store_writer_process`] writes, and what: set only in the child processes of
/// [`file_store_writers_in_several_processes_do_not_lose_each_other`].
const WRITER_DIR: &str = "RISKFLOW_TEST_SECRET_WRITER_DIR";
const WRITER_ID: &str = "RISKFLOW_TEST_SECRET_WRITER_ID";
const WRITES_PER_PROCESS: usize = 25;

/// One writer process (the CLI, `riskflow dev`): puts its own names into the shared dir.
#[tokio::test]
#[ignore = "a helper process started by file_store_writers_in_several_processes_do_not_lose_each_other"]
async fn file_store_writer_process() {
    let dir = std::env::var(WRITER_DIR).expect("started by the multi-process test");
    let id = std::env::var(WRITER_ID).expect("started by the multi-process test");
    let store = FileSecretStore::open(dir).unwrap();
    for j in 0..WRITES_PER_PROCESS {
        store
            .put(&format!("riskflow-{id}-{j}"), &secret(&format!("{id}/{j}")))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn file_store_writers_in_several_processes_do_not_lose_each_other() {
    let tmp = TempDir::new("riskflow-secrets-processes");
    FileSecretStore::open(tmp.path()).unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..4)
        .map(|id| {
            tokio::process::Command::new(&exe)
                .args(["--ignored", "--exact", "file_store_writer_process"])
                .args(["--test-threads", "1", "--quiet"])
                .env(WRITER_DIR, tmp.path())
                .env(WRITER_ID, id.to_string())
                .stdout(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().await.unwrap().success());
    }
    let store = FileSecretStore::open(tmp.path()).unwrap();
    let mut missing = Vec::new();
    for id in 0..4 {
        for j in 0..WRITES_PER_PROCESS {
            match store.get(&format!("riskflow-{id}-{j}"), None).await {
                Ok(v) => assert_eq!(v.value.expose_secret(), format!("{id}/{j}")),
                Err(_) => missing.push(format!("{id}-{j}")),
            }
        }
    }
    assert!(missing.is_empty(), "lost writes: {missing:?}");
}

#[tokio::test]
async fn file_store_refuses_a_corrupt_file_without_quoting_it() {
    let tmp = TempDir::new("riskflow-secrets-corrupt");
    let store = FileSecretStore::open(tmp.path()).unwrap();
    std::fs::write(store.path(), "{\"a\": \"hunter2-secret\" oops").unwrap();
    let err = store.get("a", None).await.unwrap_err();
    assert!(matches!(err, SecretError::Other(_)), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("hunter2"));
    // And does not overwrite it with an empty store.
    assert!(store.put("b", &secret("x")).await.is_err());
    assert!(
        std::fs::read_to_string(store.path())
            .unwrap()
            .contains("hunter2")
    );
}

// ---------------------------------------------------------------- Secrets Manager

#[tokio::test]
async fn secrets_manager_delete_of_a_secret_scheduled_for_deletion_frees_the_name_at_once() {
    let store = secrets_manager_test_store().await;
    let name = unique_name("riskflow-workday");
    store.put(&name, &secret("before")).await.unwrap();
    // Deleted elsewhere with a recovery window (e.g. by hand in the console).
    store
        .client()
        .delete_secret()
        .secret_id(&name)
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert!(is_not_found(&store.get(&name, None).await));
    // riskflow's delete makes it immediate, so a new connect can create the name again.
    store.delete(&name).await.unwrap();
    let described = store
        .client()
        .describe_secret()
        .secret_id(&name)
        .send()
        .await;
    assert!(
        described.is_err(),
        "the secret is gone, not scheduled: {described:?}"
    );
    let v = store.put(&name, &secret("again")).await.unwrap();
    let got = store.get(&name, None).await.unwrap();
    assert_eq!(got.version_id, v);
    assert_eq!(got.value.expose_secret(), "again");
}

#[tokio::test]
async fn secrets_manager_unreachable_is_unavailable_and_never_shows_the_value() {
    use riskflow::secrets::secrets_manager::SecretsManagerStore;
    // Needs no emulator: nothing listens on the discard port.
    let conf = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .endpoint_url("http://127.0.0.1:9")
        .retry_config(aws_sdk_secretsmanager::config::retry::RetryConfig::disabled())
        .build();
    let store = SecretsManagerStore::new(aws_sdk_secretsmanager::Client::from_conf(conf));
    let err = store
        .put("riskflow-jira", &secret("hunter2-value"))
        .await
        .unwrap_err();
    assert!(matches!(err, SecretError::Unavailable(_)), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("hunter2"));
    assert!(matches!(
        store.get("riskflow-jira", None).await,
        Err(SecretError::Unavailable(_))
    ));
    assert!(matches!(
        store.delete("riskflow-jira").await,
        Err(SecretError::Unavailable(_))
    ));
}

#[tokio::test]
async fn secrets_manager_creates_secrets_with_the_deployments_kms_key() {
    let plain = secrets_manager_test_store().await;
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let store = plain.clone().with_kms_key(Some(key.to_string()));
    let name = unique_name("riskflow-okta");
    store.put(&name, &secret("with-cmk")).await.unwrap();
    // A second put writes a new version of the same secret (the key stays the secret's).
    store.put(&name, &secret("with-cmk-2")).await.unwrap();
    let d = store
        .client()
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(d.kms_key_id(), Some(key));
    let other = unique_name("riskflow-okta");
    plain.put(&other, &secret("default-key")).await.unwrap();
    let d = plain
        .client()
        .describe_secret()
        .secret_id(&other)
        .send()
        .await
        .unwrap();
    assert_ne!(d.kms_key_id(), Some(key));
}
