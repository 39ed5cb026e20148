//! AWS Secrets Manager [`SecretStore`]: one secret per connection, values as `SecretString`.
//!
//! - put: `PutSecretValue`; a missing secret is created (`CreateSecret`, whose version is
//!   returned), and one scheduled for deletion (`InvalidRequestException`) is restored
//!   (`RestoreSecret`) and then written, so connect → disconnect → connect works at once. (The
//!   emulator accepts `PutSecretValue` on a secret scheduled for deletion and leaves it
//!   deleted; AWS refuses it, which is what this relies on. riskflow's own deletes are forced,
//!   so under either the name is free at once.)
//! - get: `GetSecretValue`, at a `VersionId` when given. A missing or deleted secret (or
//!   version) is [`SecretError::NotFound`].
//! - secrets are created with the deployment's customer-managed KMS key when one is configured
//!   ([`SecretsManagerStore::with_kms_key`], `RISKFLOW_KMS_KEY_ARN`), else with Secrets
//!   Manager's default key `aws/secretsmanager`.
//! - delete: `DeleteSecret` with `ForceDeleteWithoutRecovery`; a missing secret is fine.
//!
//! Throttling, 5xx answers, timeouts and dispatch failures are [`SecretError::Unavailable`].
//! Error messages carry the operation, the secret name and the error code, never a value.

use super::{SecretError, SecretStore, SecretValue};
use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// How many create/restore/put rounds a put makes before giving up (a secret being
/// deleted on AWS can take a moment to disappear).
const PUT_ROUNDS: u32 = 5;

#[derive(Clone, Debug)]
pub struct SecretsManagerStore {
    client: Client,
    kms_key_id: Option<String>,
}

impl SecretsManagerStore {
    pub fn new(client: Client) -> Self {
        SecretsManagerStore {
            client,
            kms_key_id: None,
        }
    }

    /// Create new secrets encrypted with this KMS key (ARN, id or alias).
    pub fn with_kms_key(mut self, key: Option<String>) -> Self {
        self.kms_key_id = key;
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "InternalServiceError",
    "InternalFailure",
    "ServiceUnavailable",
];

fn code_of<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Option<&str> {
    err.as_service_error().and_then(|e| e.code())
}

/// Map an SDK error to a secret error. Secrets Manager's messages name secrets, not values,
/// but only the code is kept anyway.
fn classify<E: ProvideErrorMetadata>(
    op: &str,
    name: &str,
    err: &SdkError<E, HttpResponse>,
) -> SecretError {
    match err {
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or("Unknown");
            let status = ctx.raw().status().as_u16();
            if code == "ResourceNotFoundException" {
                SecretError::NotFound {
                    name: name.to_string(),
                }
            } else if TRANSIENT_CODES.contains(&code) || status >= 500 {
                SecretError::Unavailable(format!(
                    "Secrets Manager {op} {name}: {code} (HTTP {status})"
                ))
            } else {
                SecretError::Other(format!(
                    "Secrets Manager {op} {name}: {code} (HTTP {status})"
                ))
            }
        }
        SdkError::TimeoutError(_) => {
            SecretError::Unavailable(format!("Secrets Manager {op} {name}: timed out"))
        }
        SdkError::DispatchFailure(_) => SecretError::Unavailable(format!(
            "Secrets Manager {op} {name}: the request could not be sent"
        )),
        SdkError::ResponseError(_) => SecretError::Unavailable(format!(
            "Secrets Manager {op} {name}: the response could not be read"
        )),
        _ => SecretError::Other(format!(
            "Secrets Manager {op} {name}: the request could not be built"
        )),
    }
}

fn version_of(op: &str, name: &str, v: Option<&str>) -> Result<String, SecretError> {
    v.map(str::to_string).ok_or_else(|| {
        SecretError::Other(format!(
            "Secrets Manager {op} {name}: no version id in the answer"
        ))
    })
}

impl SecretsManagerStore {
    /// Restore a secret scheduled for deletion. `Ok(false)` when there is nothing to restore.
    async fn restore(&self, name: &str) -> Result<bool, SecretError> {
        match self.client.restore_secret().secret_id(name).send().await {
            Ok(_) => Ok(true),
            Err(e) if code_of(&e) == Some("ResourceNotFoundException") => Ok(false),
            // Still being deleted (forced deletion is asynchronous on AWS): try again later.
            Err(e) if code_of(&e) == Some("InvalidRequestException") => Ok(false),
            Err(e) => Err(classify("RestoreSecret", name, &e)),
        }
    }
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn put(&self, name: &str, value: &SecretString) -> Result<String, SecretError> {
        for round in 0..PUT_ROUNDS {
            if round > 0 {
                tokio::time::sleep(Duration::from_millis(100 * (1 << round.min(4)))).await;
            }
            let put = self
                .client
                .put_secret_value()
                .secret_id(name)
                .secret_string(value.expose_secret())
                .send()
                .await;
            match put {
                Ok(out) => return version_of("PutSecretValue", name, out.version_id()),
                Err(e) if code_of(&e) == Some("ResourceNotFoundException") => {
                    let created = self
                        .client
                        .create_secret()
                        .name(name)
                        .set_kms_key_id(self.kms_key_id.clone())
                        .secret_string(value.expose_secret())
                        .send()
                        .await;
                    match created {
                        Ok(out) => return version_of("CreateSecret", name, out.version_id()),
                        // Created by someone else in between: write a new version over it.
                        Err(e) if code_of(&e) == Some("ResourceExistsException") => {}
                        // "already scheduled for deletion" (a forced deletion still under way
                        // on AWS): restore it if possible, and go round again.
                        Err(e) if code_of(&e) == Some("InvalidRequestException") => {
                            self.restore(name).await?;
                        }
                        Err(e) => return Err(classify("CreateSecret", name, &e)),
                    }
                }
                // Marked for deletion: restore it, then write the new value.
                Err(e) if code_of(&e) == Some("InvalidRequestException") => {
                    self.restore(name).await?;
                }
                Err(e) => return Err(classify("PutSecretValue", name, &e)),
            }
        }
        Err(SecretError::Unavailable(format!(
            "Secrets Manager: secret {name} is still being deleted; try again shortly"
        )))
    }

    async fn get(&self, name: &str, version_id: Option<&str>) -> Result<SecretValue, SecretError> {
        let res = self
            .client
            .get_secret_value()
            .secret_id(name)
            .set_version_id(version_id.map(str::to_string))
            .send()
            .await;
        let out = match res {
            Ok(out) => out,
            // A deleted (or being deleted) secret is gone as far as riskflow is concerned.
            Err(e) if code_of(&e) == Some("InvalidRequestException") => {
                return Err(SecretError::NotFound {
                    name: name.to_string(),
                });
            }
            Err(e) => return Err(classify("GetSecretValue", name, &e)),
        };
        let value = out.secret_string().ok_or_else(|| {
            SecretError::Other(format!("Secrets Manager secret {name} has no string value"))
        })?;
        Ok(SecretValue {
            version_id: version_of("GetSecretValue", name, out.version_id())?,
            value: SecretString::from(value.to_string()),
        })
    }

    async fn delete(&self, name: &str) -> Result<(), SecretError> {
        let del = || {
            self.client
                .delete_secret()
                .secret_id(name)
                .force_delete_without_recovery(true)
                .send()
        };
        match del().await {
            Ok(_) => Ok(()),
            Err(e) if code_of(&e) == Some("ResourceNotFoundException") => Ok(()),
            // Already scheduled for deletion with a recovery window: make it immediate.
            Err(e) if code_of(&e) == Some("InvalidRequestException") => {
                if !self.restore(name).await? {
                    return Ok(());
                }
                match del().await {
                    Ok(_) => Ok(()),
                    Err(e) if code_of(&e) == Some("ResourceNotFoundException") => Ok(()),
                    Err(e) => Err(classify("DeleteSecret", name, &e)),
                }
            }
            Err(e) => Err(classify("DeleteSecret", name, &e)),
        }
    }
}
