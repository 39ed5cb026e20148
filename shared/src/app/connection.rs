//! A connected system as a run or a webhook delivery reads it: the stored connection's settings
//! and its secret, read once (the secret through the version-keyed cache), and why it cannot
//! be used when it cannot ([`BuildError`]); and read again after the system refused the
//! credentials ([`reload_after_refusal`]), for a secret rotated outside riskflow.

use crate::connectors::ConnectorError;
use crate::connectors::form::{SettingsError, VendorSettings};
use crate::domain::{ConnectionKind, ConnectionRecord, ConnectionStatus, HistoryEntry};
use crate::secrets::{CachedSecrets, SecretError};
use crate::store::{Store, StoreError};
use secrecy::ExposeSecret;
use serde_json::{Map, Value};

/// A connected system: its non-secret settings, its secret fields, and what its last
/// successful verification learned.
pub struct Connected {
    pub kind: ConnectionKind,
    pub settings: Map<String, Value>,
    pub secrets: Map<String, Value>,
    pub facts: Map<String, Value>,
    /// The version of the secret these credentials were read at.
    pub secret_version: String,
}

/// Who a history entry names when a run, not a person, changed the connection.
pub const BY_RUN: &str = "riskflow run";

/// Why a connected system cannot be built for a run.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Not connected (never, disconnected or failed its check): the run is skipped.
    #[error("{} is not connected", .0.display_name())]
    NotConnected(ConnectionKind),
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    #[error("the {kind} credentials could not be read: {error}")]
    Secret {
        kind: ConnectionKind,
        error: SecretError,
    },
    #[error("the stored {0} credentials are not a JSON object")]
    SecretShape(ConnectionKind),
    /// The stored settings cannot be read into the vendor's settings (names the field).
    #[error("{error}")]
    Settings {
        kind: ConnectionKind,
        error: SettingsError,
    },
    /// The client cannot be built from them (an unreadable certificate, for one).
    #[error("{error}")]
    Client {
        kind: ConnectionKind,
        error: ConnectorError,
    },
}

impl BuildError {
    /// Whether the system is simply not connected (a skip), rather than broken (a failure).
    pub fn is_not_connected(&self) -> bool {
        matches!(self, BuildError::NotConnected(_))
    }

    /// Whether trying again shortly may succeed (the state or secret store was unavailable).
    pub fn is_transient(&self) -> bool {
        match self {
            BuildError::Store(_) => true,
            BuildError::Secret { error, .. } => !matches!(error, SecretError::NotFound { .. }),
            _ => false,
        }
    }
}

/// Read `kind`'s connection and its secret; [`BuildError::NotConnected`] when it is not
/// connected.
pub async fn load(
    store: &Store,
    secrets: &CachedSecrets,
    kind: ConnectionKind,
    now: i64,
) -> Result<Connected, BuildError> {
    load_when(store, secrets, kind, now, &[ConnectionStatus::Connected]).await
}

/// `kind`'s connection and its secret for checking a webhook's signature: also while its
/// last re-test failed (`verify_failed`), since the signing secret is still the one the sender
/// signs with and refusing the deliveries would lose them. Only a connection with no secret
/// (never connected, disconnected) is [`BuildError::NotConnected`].
pub async fn load_signing(
    store: &Store,
    secrets: &CachedSecrets,
    kind: ConnectionKind,
    now: i64,
) -> Result<Connected, BuildError> {
    let usable = [ConnectionStatus::Connected, ConnectionStatus::VerifyFailed];
    load_when(store, secrets, kind, now, &usable).await
}

async fn load_when(
    store: &Store,
    secrets: &CachedSecrets,
    kind: ConnectionKind,
    now: i64,
    usable: &[ConnectionStatus],
) -> Result<Connected, BuildError> {
    let rec = store.connection(kind, now).await?;
    let (true, Some(id), Some(version)) = (
        usable.contains(&rec.status),
        &rec.secret_id,
        &rec.secret_version,
    ) else {
        return Err(BuildError::NotConnected(kind));
    };
    let secret = secrets
        .get(id, version)
        .await
        .map_err(|error| BuildError::Secret { kind, error })?;
    let version = version.clone();
    connected(rec, &secret, version)
}

fn connected(
    rec: ConnectionRecord,
    secret: &secrecy::SecretString,
    secret_version: String,
) -> Result<Connected, BuildError> {
    let kind = rec.kind;
    let fields: Map<String, Value> =
        serde_json::from_str(secret.expose_secret()).map_err(|_| BuildError::SecretShape(kind))?;
    Ok(Connected {
        kind,
        settings: rec.settings.into_iter().collect(),
        secrets: fields,
        facts: rec.facts,
        secret_version,
    })
}

/// `kind`'s connection again, after its system refused the credentials read at `refused`
/// (401): with the secret version the connection now names when it was reconnected meanwhile,
/// else with the secret's newest version read past the cache (a secret rotated in the store
/// outside riskflow), which is then recorded on the connection (with a history entry) so that
/// later runs and other functions read it directly. `None` when there is nothing newer to try
/// (the same version, or no longer connected): the 401 stands.
pub async fn reload_after_refusal(
    store: &Store,
    secrets: &CachedSecrets,
    kind: ConnectionKind,
    refused: &str,
    now: i64,
) -> Result<Option<Connected>, BuildError> {
    let rec = store.connection(kind, now).await?;
    let (ConnectionStatus::Connected, Some(id), Some(version)) = (
        rec.status,
        rec.secret_id.clone(),
        rec.secret_version.clone(),
    ) else {
        return Ok(None);
    };
    if version != refused {
        return load(store, secrets, kind, now).await.map(Some);
    }
    let fresh = secrets
        .refresh(&id)
        .await
        .map_err(|error| BuildError::Secret { kind, error })?;
    if fresh.version_id == refused {
        return Ok(None);
    }
    let mut updated = rec.clone();
    updated.secret_version = Some(fresh.version_id.clone());
    updated.updated_at = now;
    let history = HistoryEntry {
        kind,
        at: now,
        status: ConnectionStatus::Connected,
        by: BY_RUN.into(),
        message: format!(
            "{} refused the stored credentials (401); the secret had a newer version, changed outside riskflow, which runs use from now on",
            kind.display_name()
        ),
    };
    // The new version is used in this run even when it cannot be recorded (a reconnect
    // won the race, or the store is unavailable: the next refusal tries again).
    if let Err(e) = store.save_connection(&updated, &history, now).await {
        tracing::warn!(%kind, error = %e, "the rotated secret's version was not recorded");
    }
    connected(rec, &fresh.value, fresh.version_id).map(Some)
}

impl Connected {
    /// The vendor's typed settings, with the facts its verification stored.
    pub fn read<S: VendorSettings>(&self) -> Result<S, BuildError> {
        S::read(&self.settings, &self.secrets)
            .map(|s| s.with_facts(&self.facts))
            .map_err(|error| BuildError::Settings {
                kind: self.kind,
                error,
            })
    }
}

/// A client-building result as a [`BuildError`] of `kind`.
pub fn client<T>(kind: ConnectionKind, r: Result<T, ConnectorError>) -> Result<T, BuildError> {
    r.map_err(|error| BuildError::Client { kind, error })
}
