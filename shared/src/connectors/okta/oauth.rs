//! OAuth 2.0 for Okta with a service app: a client-credentials token from the org
//! authorization server (`POST {org}/oauth2/v1/token`, `private_key_jwt`: an RS256
//! `client_assertion` signed with the app's key), cached until a minute before it expires, and
//! DPoP (RFC 9449) when the org requires it: the token request answers 400 `invalid_dpop_proof`
//! or `use_dpop_nonce` (with `DPoP-Nonce`), and then every token request carries an ES256
//! `DPoP` proof with the nonce, and every API call `Authorization: DPoP <token>` plus a proof
//! with `ath`. Sources in `docs/vendors/okta.md`.

use super::client::SYSTEM;
use crate::connectors::ConnectorError;
use crate::http::{self, Call, Http, HttpError};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use url::Url;

/// The scopes asked for: read users (and their groups), change group memberships.
pub const SCOPES: &str = "okta.users.read okta.groups.manage";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// A cached token is renewed when less than this is left of it.
const RENEW_BEFORE: Duration = Duration::from_secs(60);
/// How long a client assertion is valid (Okta accepts at most an hour).
const ASSERTION_SECS: i64 = 300;
/// A token request is tried at most this often (no DPoP, DPoP without nonce, with nonce).
const TOKEN_TRIES: usize = 3;

/// An access token and how it is presented.
#[derive(Clone)]
pub(crate) struct AccessToken {
    pub value: SecretString,
    /// `token_type` `DPoP`: sent as `Authorization: DPoP …` with a proof.
    pub dpop: bool,
    renew_at: Instant,
}

impl AccessToken {
    /// The token of a 200 answer of the token endpoint, renewed [`RENEW_BEFORE`] before it
    /// expires (`expires_in` counted from `received`; one hour when absent; at most a day, so
    /// an absurd value such as `18446744073709551615` cannot overflow the clock and panic).
    pub(crate) fn from_answer(
        call: &Call,
        body: &[u8],
        received: Instant,
    ) -> Result<AccessToken, ConnectorError> {
        let answer: TokenAnswer = http::decode_json(call, body)?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600).min(86_400));
        Ok(AccessToken {
            value: answer.access_token,
            dpop: answer.token_type.eq_ignore_ascii_case("DPoP"),
            renew_at: received + lifetime.saturating_sub(RENEW_BEFORE),
        })
    }
}

#[derive(Default)]
struct TokenState {
    token: Option<AccessToken>,
    /// The org asked for DPoP proofs.
    dpop: bool,
    /// The last `DPoP-Nonce` the authorization server sent.
    nonce: Option<String>,
}

/// An Okta API Services app authenticating with `private_key_jwt`.
pub struct ServiceApp {
    client_id: String,
    key: RsaKeyPair,
    kid: Option<String>,
    /// The DPoP key: made for this process, never stored (a token is bound to it).
    dpop_key: EcdsaKeyPair,
    rng: SystemRandom,
    state: Mutex<TokenState>,
}

impl fmt::Debug for ServiceApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceApp")
            .field("client_id", &self.client_id)
            .field("kid", &self.kid)
            .field("private_key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: SecretString,
    #[serde(default)]
    token_type: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize, Default)]
struct OAuthError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn invalid(message: impl Into<String>) -> ConnectorError {
    ConnectorError::invalid(SYSTEM, message)
}

/// A compact JWS of `header` and `claims`, signed by `sign`.
fn jws(
    header: &Value,
    claims: &Value,
    sign: impl FnOnce(&[u8]) -> Option<Vec<u8>>,
) -> Result<String, ConnectorError> {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let sig = sign(input.as_bytes()).ok_or_else(|| invalid("a JWT could not be signed"))?;
    Ok(format!("{input}.{}", b64(sig)))
}

/// An RSA private key from PEM: PKCS#8 (`PRIVATE KEY`, what Okta's console exports) or PKCS#1
/// (`RSA PRIVATE KEY`). The message never quotes the key.
fn rsa_key(pem: &str) -> Result<RsaKeyPair, ConnectorError> {
    const BAD: &str = "the private key is not an RSA private key in PEM \
                       (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)";
    let pem = pem.trim();
    let label = pem
        .strip_prefix("-----BEGIN ")
        .and_then(|r| r.split_once("-----"))
        .map(|(l, _)| l)
        .ok_or_else(|| invalid(BAD))?;
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = STANDARD.decode(body).map_err(|_| invalid(BAD))?;
    let key = match label {
        "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
        _ => return Err(invalid(BAD)),
    };
    key.map_err(|e| invalid(format!("the private key was refused: {e}")))
}

/// `htu`: the URL without query and fragment (RFC 9449 §4.2).
fn htu(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

impl ServiceApp {
    /// The app `client_id` with its PEM private key (and the key's id, when Okta holds several).
    pub fn new(
        client_id: &str,
        private_key_pem: &SecretString,
        kid: Option<String>,
    ) -> Result<ServiceApp, ConnectorError> {
        if client_id.trim().is_empty() {
            return Err(invalid("the client ID is empty"));
        }
        let key = rsa_key(private_key_pem.expose_secret())?;
        let dpop_key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| invalid("a DPoP key could not be made"))?;
        Ok(ServiceApp {
            client_id: client_id.trim().to_string(),
            key,
            kid: kid.filter(|k| !k.trim().is_empty()),
            dpop_key,
            rng: SystemRandom::new(),
            state: Mutex::new(TokenState::default()),
        })
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TokenState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The `client_assertion`: RS256, `iss` = `sub` = client id, `aud` = the token URL, a
    /// unique `jti`, valid five minutes.
    fn assertion(&self, token_url: &Url) -> Result<String, ConnectorError> {
        let now = jiff::Timestamp::now().as_second();
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.kid {
            header["kid"] = json!(kid);
        }
        let claims = json!({
            "iss": self.client_id, "sub": self.client_id, "aud": token_url.as_str(),
            "iat": now, "exp": now + ASSERTION_SECS, "jti": uuid::Uuid::new_v4().to_string(),
        });
        jws(&header, &claims, |input| {
            let mut sig = vec![0; self.key.public_modulus_len()];
            self.key
                .sign(&RSA_PKCS1_SHA256, &self.rng, input, &mut sig)
                .ok()?;
            Some(sig)
        })
    }

    /// The public DPoP key as a JWK.
    fn dpop_jwk(&self) -> Value {
        // An uncompressed P-256 point: 0x04 ‖ x (32 bytes) ‖ y (32 bytes).
        let point = self.dpop_key.public_key().as_ref();
        let coords = point.get(1..).unwrap_or_default();
        let (x, y) = coords.split_at(coords.len() / 2);
        json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)})
    }

    /// A DPoP proof for `method url`: ES256, `typ: dpop+jwt`, the public key as `jwk`; claims
    /// `htm`, `htu`, `iat`, a unique `jti`, and `nonce` / `ath` (base64url SHA-256 of the
    /// access token) when given.
    pub(crate) fn proof(
        &self,
        method: &Method,
        url: &Url,
        nonce: Option<&str>,
        token: Option<&SecretString>,
    ) -> Result<String, ConnectorError> {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.dpop_jwk()});
        let mut claims = json!({
            "htm": method.as_str(), "htu": htu(url), "iat": jiff::Timestamp::now().as_second(),
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        if let Some(t) = token {
            claims["ath"] = json!(b64(Sha256::digest(t.expose_secret().as_bytes())));
        }
        jws(&header, &claims, |input| {
            self.dpop_key
                .sign(&self.rng, input)
                .ok()
                .map(|s| s.as_ref().to_vec())
        })
    }

    /// Drop the cached token (the API answered 401 to it).
    pub(crate) fn forget(&self) {
        self.lock().token = None;
    }

    /// The cached token, or a new one from `{base}/oauth2/v1/token`.
    pub(crate) async fn token(
        &self,
        http: &Http,
        base: &Url,
        deadline: Option<Instant>,
    ) -> Result<AccessToken, ConnectorError> {
        if let Some(t) = self.lock().token.clone()
            && Instant::now() < t.renew_at
        {
            return Ok(t);
        }
        let url = http::join(base, "/oauth2/v1/token").map_err(|e| invalid(e.to_string()))?;
        let call = Call::new(SYSTEM, Method::POST, url.path()).deadline(deadline);
        let refused = |status: u16, e: &OAuthError| {
            let message = match (e.error.as_str(), e.error_description.as_str()) {
                ("", _) => None,
                (code, "") => Some(code.to_string()),
                (code, d) => Some(format!("{code}: {d}")),
            };
            ConnectorError::Http(HttpError::Status {
                system: SYSTEM,
                method: "POST".into(),
                path: call.path.clone(),
                status,
                message,
                retry_after: None,
            })
        };
        for _ in 0..TOKEN_TRIES {
            let (dpop, nonce) = {
                let s = self.lock();
                (s.dpop, s.nonce.clone())
            };
            let assertion = self.assertion(&url)?;
            let form = [
                ("grant_type", "client_credentials"),
                ("scope", SCOPES),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", assertion.as_str()),
            ];
            let mut req = http
                .client
                .post(url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .form(&form);
            if dpop {
                req = req.header(
                    "DPoP",
                    self.proof(&Method::POST, &url, nonce.as_deref(), None)?,
                );
            }
            if let Some(d) = deadline {
                req = req.timeout(d.saturating_duration_since(Instant::now()));
            }
            let resp = http.send_once(&call, req).await?;
            let status = resp.status().as_u16();
            let new_nonce = resp
                .headers()
                .get("dpop-nonce")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = http::read_body(&call, resp).await?;
            let mut state = self.lock();
            if new_nonce.is_some() {
                state.nonce = new_nonce.clone();
            }
            if status == 200 {
                let token = AccessToken::from_answer(&call, &body, Instant::now())?;
                state.token = Some(token.clone());
                return Ok(token);
            }
            let err: OAuthError = serde_json::from_slice(&body).unwrap_or_default();
            match err.error.as_str() {
                "use_dpop_nonce" if new_nonce.is_some() => state.dpop = true,
                "invalid_dpop_proof" if !dpop => state.dpop = true,
                _ => return Err(refused(status, &err)),
            }
        }
        Err(invalid(
            "Okta kept refusing the DPoP proof of the token request",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_that_is_not_pem_is_refused_without_quoting_it() {
        let err =
            ServiceApp::new("0oa1", &SecretString::from("not-a-key-SECRET"), None).unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
        assert!(err.to_string().contains("PEM"), "{err}");
    }
}
