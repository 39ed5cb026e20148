//! Checking a BambooHR connection: the webhook keys' strength, then live: the API key reads its
//! own record.

use super::directory::BambooDirectory;
use crate::connectors::hr::check_signing_key;
use crate::ports::{LiveCheck, VerifyFailure};
use async_trait::async_trait;
use secrecy::ExposeSecret;
use std::time::Instant;

#[async_trait]
impl LiveCheck for BambooDirectory {
    /// "Connected to BambooHR", or why not.
    async fn verify_connection(&self, deadline: Option<Instant>) -> Result<String, VerifyFailure> {
        self.client
            .verify(deadline)
            .await
            .map_err(|e| VerifyFailure::from_connector("BambooHR", &e))
    }
}

impl super::settings::Settings {
    /// The webhook key and, while it is rotated, the previous one, held to the one rule every
    /// signing key meets ([`check_signing_key`]: BambooHR keys the HMAC with the key's UTF-8
    /// bytes, trimmed, as the webhook route does).
    pub fn check_signing_keys(&self) -> Result<(), VerifyFailure> {
        let keys = [
            ("webhook_key", Some(&self.webhook_key)),
            ("previous_webhook_key", self.previous_webhook_key.as_ref()),
        ];
        for (field, key) in keys {
            if let Some(key) = key {
                check_signing_key(field, key.expose_secret().trim().as_bytes(), "")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::settings::Settings;
    use secrecy::SecretString;

    fn settings(current: &str, previous: Option<&str>) -> Settings {
        Settings {
            url: "https://api.bamboohr.com/api/gateway.php/acme"
                .parse()
                .unwrap(),
            api_key: SecretString::from("api-key"),
            webhook_key: SecretString::from(current),
            previous_webhook_key: previous.map(SecretString::from),
        }
    }

    #[test]
    fn both_webhook_keys_are_held_to_the_signing_key_rule_and_named() {
        let strong = "0123456789abcdef";
        assert!(settings(strong, None).check_signing_keys().is_ok());
        assert!(settings(strong, Some(strong)).check_signing_keys().is_ok());
        let e = settings("0123456789abcde", None)
            .check_signing_keys()
            .unwrap_err();
        assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
        assert!(
            e.message.starts_with("'webhook_key' is too weak"),
            "{}",
            e.message
        );
        // Spaces around a key are not key bytes (the route trims them).
        for weak in ["old-key", "  0123456789abcde  "] {
            let e = settings(strong, Some(weak))
                .check_signing_keys()
                .unwrap_err();
            assert!(
                e.message.starts_with("'previous_webhook_key' is too weak"),
                "{weak}: {}",
                e.message
            );
        }
    }
}
