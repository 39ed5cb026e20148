//! Checking a signed-webhook connection: nothing to call, so the signing secrets (the current
//! one and, while rotating, the previous one) are checked for strength, by the same rule.

use super::settings::Settings;
use super::webhook::decode_secret;
use crate::connectors::hr::check_signing_key;
use crate::ports::VerifyFailure;
use secrecy::SecretString;

const HINT: &str = " (a whsec_… secret is best: 24 or more base64 characters after the prefix)";

/// The answer to connecting the signed HR webhook with these signing secrets.
pub fn verify_signing_secret(s: &Settings) -> Result<String, VerifyFailure> {
    check_secret("signing_secret", &s.signing_secret)?;
    if let Some(previous) = &s.previous_signing_secret {
        check_secret("previous_signing_secret", previous)?;
    }
    Ok("Signing secret saved: point your HR system at POST /webhooks/hr/generic".into())
}

fn check_secret(field: &str, secret: &SecretString) -> Result<(), VerifyFailure> {
    let key = decode_secret(secret).map_err(|e| VerifyFailure::bad(format!("'{field}': {e}")))?;
    check_signing_key(field, &key, HINT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(current: &str, previous: Option<&str>) -> Settings {
        Settings {
            signing_secret: SecretString::from(current),
            previous_signing_secret: previous.map(SecretString::from),
        }
    }

    const STRONG: &str = "whsec_MDEyMzQ1Njc4OWFiY2RlZg=="; // 16 bytes decoded
    const SHORT_WHSEC: &str = "whsec_MDEyMzQ1Njc4OWFiY2Rl"; // 15 bytes, 26 characters

    #[test]
    fn the_current_secret_is_judged_by_its_decoded_bytes() {
        assert!(verify_signing_secret(&settings(STRONG, None)).is_ok());
        assert!(verify_signing_secret(&settings("0123456789abcdef", None)).is_ok());
        for weak in [SHORT_WHSEC, "0123456789abcde", "whsec_"] {
            let e = verify_signing_secret(&settings(weak, None)).unwrap_err();
            assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
            assert!(e.message.starts_with("'signing_secret'"), "{}", e.message);
        }
        let e = verify_signing_secret(&settings("whsec_not base64!!!!!!!!!!!!", None)).unwrap_err();
        assert_eq!(
            e.message,
            "'signing_secret': a configured signing secret is not usable: the part after 'whsec_' is not base64"
        );
    }

    #[test]
    fn the_previous_secret_is_held_to_the_same_rule_and_named() {
        assert!(verify_signing_secret(&settings(STRONG, Some("0123456789abcdef"))).is_ok());
        for weak in [SHORT_WHSEC, "short", "whsec_!!"] {
            let e = verify_signing_secret(&settings(STRONG, Some(weak))).unwrap_err();
            assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
            assert!(
                e.message.starts_with("'previous_signing_secret'"),
                "{weak}: {}",
                e.message
            );
            assert!(!e.message.contains(weak), "no secret in the message");
        }
    }
}
