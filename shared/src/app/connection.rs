//! A connected system as a run or a webhook delivery reads it: the stored connection's settings
//! and its secret, read once (the secret through the version-keyed cache), and why it cannot
//! be used when it cannot ([`BuildError`]).

use crate::connectors::ConnectorError;
use crate::connectors::form::{SettingsError, VendorSettings};
use crate::domain::{ConnectionKind, ConnectionStatus};
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
}

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
    let rec = store.connection(kind, now).await?;
    let (ConnectionStatus::Connected, Some(id), Some(version)) =
        (rec.status, &rec.secret_id, &rec.secret_version)
    else {
        return Err(BuildError::NotConnected(kind));
    };
    let secret = secrets
        .get(id, version)
        .await
        .map_err(|error| BuildError::Secret { kind, error })?;
    let fields: Map<String, Value> =
        serde_json::from_str(secret.expose_secret()).map_err(|_| BuildError::SecretShape(kind))?;
    Ok(Connected {
        kind,
        settings: rec.settings.into_iter().collect(),
        secrets: fields,
        facts: rec.facts,
    })
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
