//! Standard Webhooks signatures (the Svix-compatible `v1` scheme).
//!
//! - Headers: `webhook-id`, `webhook-timestamp` (epoch seconds), `webhook-signature` (a
//!   space-separated list of `v1,<base64 HMAC-SHA256>`; other versions are ignored).
//! - Signed content: `"{webhook-id}.{webhook-timestamp}.{raw body}"`.
//! - Secret: `whsec_<base64>` is base64-decoded after the prefix (the Standard Webhooks form);
//!   a secret without the prefix is used as its raw UTF-8 bytes (for systems that let a person
//!   type any shared secret). A `whsec_` secret that is not valid base64 is a configuration
//!   error, never silently used as text.
//! - Every configured secret is tried (the route passes the current one and, during rotation,
//!   the previous one); each comparison is constant-time (`hmac::Mac::verify_slice`).
//! - The signature is checked first, then the timestamp window, so a tampered delivery reads
//!   "does not match" and a genuine but replayed one reads "outside the window".

use crate::connectors::hr::{SignatureError, check_window, header};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// The replay window the design asks for (5 minutes), in milliseconds.
pub const DEFAULT_WINDOW_MS: i64 = 5 * 60 * 1000;

/// Header names of the Standard Webhooks scheme.
pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";

type HmacSha256 = Hmac<Sha256>;

/// Verify a Standard Webhooks delivery; answers the `webhook-id` (the dedup key).
pub fn verify(
    headers: &http::HeaderMap,
    body: &[u8],
    secrets: &[SecretString],
    now_ms: i64,
    window_ms: i64,
) -> Result<String, SignatureError> {
    let id = header(headers, ID_HEADER)?;
    if id.len() > 256 || id.chars().any(|c| c.is_control()) {
        return Err(SignatureError::Malformed {
            header: ID_HEADER,
            expected: "a message id of at most 256 printable characters",
        });
    }
    let ts_text = header(headers, TIMESTAMP_HEADER)?;
    let ts_secs = parse_epoch_secs(&ts_text).ok_or(SignatureError::Malformed {
        header: TIMESTAMP_HEADER,
        expected: "epoch seconds",
    })?;
    let keys = decode_secrets(secrets)?;

    let sig_header = all_values(headers, SIGNATURE_HEADER)?;
    let mut candidates = Vec::new();
    let mut undecodable = false;
    for entry in sig_header.split_whitespace().take(16) {
        let Some((version, sig)) = entry.split_once(',') else {
            continue;
        };
        if version != "v1" {
            continue;
        }
        match STANDARD
            .decode(sig)
            .or_else(|_| STANDARD_NO_PAD.decode(sig))
        {
            Ok(bytes) => candidates.push(bytes),
            Err(_) => undecodable = true,
        }
    }
    if candidates.is_empty() {
        return Err(if undecodable {
            SignatureError::Malformed {
                header: SIGNATURE_HEADER,
                expected: "a list of v1,<base64> signatures",
            }
        } else {
            SignatureError::NoSignature(SIGNATURE_HEADER)
        });
    }

    let mut matched = false;
    for key in &keys {
        for sig in &candidates {
            // verify_slice compares in constant time (and refuses a wrong length).
            if signed_content_mac(key, &id, &ts_text, body)?
                .verify_slice(sig)
                .is_ok()
            {
                matched = true;
            }
        }
    }
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    check_window(ts_secs.saturating_mul(1000), now_ms, window_ms)?;
    Ok(id)
}

/// Sign a delivery: the `webhook-signature` header value (`v1,<base64>`) for `id`, `timestamp_secs`
/// and `body` under `secret`. Used by tests, the sandbox-less demo and the README example.
pub fn sign(
    id: &str,
    timestamp_secs: i64,
    body: &[u8],
    secret: &SecretString,
) -> Result<String, SignatureError> {
    let key = decode_secret(secret)?;
    let mac = signed_content_mac(&key, id, &timestamp_secs.to_string(), body)?;
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

fn signed_content_mac(
    key: &[u8],
    id: &str,
    ts: &str,
    body: &[u8],
) -> Result<HmacSha256, SignatureError> {
    // HMAC accepts keys of every length; the error arm exists only because the API is fallible.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .map_err(|_| SignatureError::BadSecret("HMAC refused the key"))?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(mac)
}

fn decode_secrets(secrets: &[SecretString]) -> Result<Vec<Vec<u8>>, SignatureError> {
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    secrets.iter().map(decode_secret).collect()
}

/// The HMAC key of a secret: `whsec_<base64>` decoded, anything else its UTF-8 bytes.
pub(crate) fn decode_secret(secret: &SecretString) -> Result<Vec<u8>, SignatureError> {
    let text = secret.expose_secret().trim();
    let bytes = match text.strip_prefix("whsec_") {
        Some(b64) => STANDARD
            .decode(b64)
            .or_else(|_| STANDARD_NO_PAD.decode(b64))
            .map_err(|_| SignatureError::BadSecret("the part after 'whsec_' is not base64"))?,
        None => text.as_bytes().to_vec(),
    };
    if bytes.is_empty() {
        return Err(SignatureError::BadSecret("it is empty"));
    }
    Ok(bytes)
}

fn parse_epoch_secs(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Every value of a header joined by spaces (a proxy may split a list into several headers).
fn all_values(headers: &http::HeaderMap, name: &'static str) -> Result<String, SignatureError> {
    let mut parts = Vec::new();
    for v in headers.get_all(name) {
        let text = v.to_str().map_err(|_| SignatureError::Malformed {
            header: name,
            expected: "printable ASCII",
        })?;
        parts.push(text.trim().to_string());
    }
    let joined = parts.join(" ");
    if joined.trim().is_empty() {
        return Err(SignatureError::MissingHeader(name));
    }
    Ok(joined)
}
