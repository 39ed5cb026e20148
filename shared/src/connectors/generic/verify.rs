//! Checking a signed-webhook connection: nothing to call, so the signing secret is checked for
//! strength.

use crate::ports::VerifyFailure;
use secrecy::{ExposeSecret, SecretString};

/// The answer to connecting the signed HR webhook with this signing secret.
pub fn verify_signing_secret(secret: &SecretString) -> Result<String, VerifyFailure> {
    if secret.expose_secret().len() < 16 {
        return Err(VerifyFailure::bad(
            "the signing secret must be at least 16 characters (a whsec_… secret is best)",
        ));
    }
    Ok("Signing secret saved: point your HR system at POST /webhooks/hr/generic".into())
}
