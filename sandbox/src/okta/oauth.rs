//! OAuth 2.0 for Okta: service apps (`private_key_jwt`) get access tokens from the org
//! authorization server, `POST /oauth2/v1/token`, optionally bound to a DPoP key (RFC 9449),
//! and the API accepts them beside SSWS tokens, checking the token's scopes.
//!
//! Token endpoint, as Okta answers: an app not registered, an assertion whose signature,
//! `iss`/`sub`, `aud` or `exp` (past, or more than an hour ahead) is wrong → 401
//! `invalid_client`; a scope not granted → 400 `invalid_scope`; an app that requires DPoP
//! without a proof → 400 `invalid_dpop_proof`, with a proof lacking the current nonce → 400
//! `use_dpop_nonce` and a `DPoP-Nonce` header. API calls: `Bearer <token>` (or `DPoP <token>`
//! plus a proof with `htm`, `htu`, `ath`, signed by the bound key); a missing or unknown token →
//! 401 `E0000011`; a scope the call needs missing → 403 `E0000006`.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, KeyPair, RSA_PKCS1_2048_8192_SHA256, RsaKeyPair,
    RsaPublicKeyComponents, UnparsedPublicKey,
};
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::errors::okta_error;
use super::{OktaHost, base};
use crate::util::{self, Query, Scheme};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
static TOKENS: AtomicU64 = AtomicU64::new(1);

/// A service app to register.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct OktaAppSeed {
    /// `client_id` (`0oa…`).
    pub client_id: String,
    /// The app's public key, DER `RSAPublicKey` (PKCS#1), as [`AppKey::public_der`].
    pub public_key_der: Vec<u8>,
    /// Scopes granted (`okta.users.read`, `okta.groups.manage`, …).
    pub scopes: Vec<String>,
    /// Whether tokens are issued only with a DPoP proof ("Require DPoP header in token
    /// requests", on by default for new apps).
    pub require_dpop: bool,
    /// Token lifetime (default 3600, Okta's fixed hour).
    pub token_ttl_secs: Option<u64>,
}

/// A key pair for a test service app: the private key as PKCS#8 PEM (what the connect form
/// takes) and the public key to register.
#[derive(Clone, Debug)]
pub struct AppKey {
    pub private_pem: String,
    pub public_der: Vec<u8>,
}

impl AppKey {
    /// A new RSA 2048 key pair.
    pub fn generate() -> AppKey {
        let key = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("an RSA key");
        let pkcs8 = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&key)
            .expect("PKCS#8");
        let b64 = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect();
        AppKey {
            private_pem: format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                lines.join("\n")
            ),
            public_der: key.public_key().as_ref().to_vec(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct IssuedToken {
    pub token: String,
    pub scopes: Vec<String>,
    /// The JWK thumbprint of the DPoP key the token is bound to.
    pub jkt: Option<String>,
    pub expires: i64,
}

/// Registered apps, issued tokens, the DPoP nonce and proofs seen.
#[derive(Default)]
pub(crate) struct OAuthState {
    pub apps: Vec<OktaAppSeed>,
    pub tokens: Vec<IssuedToken>,
    pub nonce: String,
    pub seen_jti: std::collections::HashSet<String>,
    /// Token requests answered, by result (`issued`, or the OAuth error).
    pub token_requests: Vec<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    util::json(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

fn invalid_client(description: &str) -> Response {
    oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

/// The header and claims of a compact JWS whose signature `verify(alg, header, input, sig)`
/// accepts.
fn verified_jws(
    jwt: &str,
    verify: impl Fn(&str, &Value, &[u8], &[u8]) -> bool,
) -> Option<(Value, Value)> {
    let mut parts = jwt.split('.');
    let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
    let header: Value = serde_json::from_slice(&util::b64url_decode(h)?).ok()?;
    let claims: Value = serde_json::from_slice(&util::b64url_decode(c)?).ok()?;
    let sig = util::b64url_decode(s)?;
    let alg = header["alg"].as_str()?;
    verify(alg, &header, format!("{h}.{c}").as_bytes(), &sig).then_some((header, claims))
}

/// Whether a JWK (EC P-256 or RSA) verifies `sig` over `input` with `alg`.
fn jwk_verifies(jwk: &Value, alg: &str, input: &[u8], sig: &[u8]) -> bool {
    let part = |k: &str| jwk[k].as_str().and_then(util::b64url_decode);
    match (alg, jwk["kty"].as_str()) {
        ("ES256", Some("EC")) => {
            let (Some(x), Some(y)) = (part("x"), part("y")) else {
                return false;
            };
            let point = [&[4u8][..], &x, &y].concat();
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(input, sig)
                .is_ok()
        }
        ("RS256", Some("RSA")) => {
            let (Some(n), Some(e)) = (part("n"), part("e")) else {
                return false;
            };
            RsaPublicKeyComponents { n, e }
                .verify(&RSA_PKCS1_2048_8192_SHA256, input, sig)
                .is_ok()
        }
        _ => false,
    }
}

/// The RFC 7638 thumbprint of a JWK (its required members in lexicographic order).
fn thumbprint(jwk: &Value) -> String {
    let s = |k: &str| jwk[k].as_str().unwrap_or_default().to_string();
    let canonical = match jwk["kty"].as_str() {
        Some("EC") => json!({"crv": s("crv"), "kty": "EC", "x": s("x"), "y": s("y")}),
        _ => json!({"e": s("e"), "kty": s("kty"), "n": s("n")}),
    };
    util::b64url(&Sha256::digest(canonical.to_string().as_bytes()))
}

/// A DPoP proof's claims when it is well formed, signed by its `jwk`, for `method url`, fresh
/// and not seen before; `Err` says what is wrong.
fn check_proof(
    proof: Option<&str>,
    method: &str,
    url: &str,
    seen: &mut std::collections::HashSet<String>,
) -> Result<(Value, Value), &'static str> {
    let proof = proof.ok_or("The DPoP proof JWT header is missing.")?;
    let (header, claims) = verified_jws(proof, |alg, h, input, sig| {
        h["typ"] == "dpop+jwt" && jwk_verifies(&h["jwk"], alg, input, sig)
    })
    .ok_or("The DPoP proof JWT is invalid.")?;
    let iat = claims["iat"].as_i64().unwrap_or_default();
    if claims["htm"] != method || claims["htu"] != url || (util::now_secs() - iat).abs() > 300 {
        return Err("The DPoP proof JWT does not match the request.");
    }
    let jti = claims["jti"]
        .as_str()
        .ok_or("The DPoP proof JWT has no jti.")?;
    if !seen.insert(jti.to_string()) {
        return Err("The DPoP proof JWT was already used.");
    }
    Ok((header, claims))
}

/// `POST /oauth2/v1/token` (form): client credentials with a `private_key_jwt` assertion.
pub(super) async fn token<H: OktaHost>(
    State(h): State<H>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    body: String,
) -> Response {
    let token_url = format!(
        "{}/oauth2/v1/token",
        base(&headers, &uri, scheme.as_deref())
    );
    let form = Query::parse(Some(&body));
    let proof = headers.get("dpop").and_then(|v| v.to_str().ok());
    h.with_okta(|s| {
        let st = &mut s.okta.oauth;
        let (resp, what) = issue(st, &form, proof, &token_url);
        st.token_requests.push(what);
        resp
    })
}

fn issue(
    st: &mut OAuthState,
    form: &Query,
    proof: Option<&str>,
    token_url: &str,
) -> (Response, String) {
    let refuse = |resp: Response, what: &str| (resp, what.to_string());
    if form.get("grant_type") != Some("client_credentials") {
        let r = oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        );
        return refuse(r, "unsupported_grant_type");
    }
    if form.get("client_assertion_type") != Some(ASSERTION_TYPE) {
        return refuse(
            invalid_client("The client_assertion_type is invalid."),
            "invalid_client",
        );
    }
    let assertion = form.get("client_assertion").unwrap_or_default();
    let claimed = verified_jws(assertion, |_, _, _, _| true).map(|(_, c)| c);
    let client_id = claimed
        .as_ref()
        .and_then(|c| c["sub"].as_str())
        .unwrap_or_default()
        .to_string();
    let Some(app) = st.apps.iter().find(|a| a.client_id == client_id).cloned() else {
        return refuse(
            invalid_client("The client_assertion token is invalid or its client is unknown."),
            "invalid_client",
        );
    };
    let Some((_, claims)) = verified_jws(assertion, |alg, _, input, sig| {
        alg == "RS256"
            && UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &app.public_key_der)
                .verify(input, sig)
                .is_ok()
    }) else {
        return refuse(
            invalid_client("The client_assertion signature is invalid."),
            "invalid_client",
        );
    };
    let now = util::now_secs();
    let exp = claims["exp"].as_i64().unwrap_or_default();
    if claims["iss"] != claims["sub"] || claims["aud"] != token_url {
        return refuse(
            invalid_client("The audience or issuer of the client_assertion is invalid."),
            "invalid_client",
        );
    }
    if exp <= now || exp > now + 3600 {
        return refuse(
            invalid_client("The client_assertion token is expired or expires too late."),
            "invalid_client",
        );
    }
    let scopes: Vec<String> = form
        .get("scope")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let refused: Vec<&String> = scopes.iter().filter(|s| !app.scopes.contains(s)).collect();
    if scopes.is_empty() || !refused.is_empty() {
        let d = format!(
            "The following scopes are not allowed: {}",
            refused
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
        return refuse(
            oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &d),
            "invalid_scope",
        );
    }
    let mut jkt = None;
    if app.require_dpop {
        if st.nonce.is_empty() {
            st.nonce = util::b64url(&util::hmac_sha256(
                b"okta-dpop-nonce",
                &[&now.to_be_bytes()],
            ));
        }
        let (header, claims) = match check_proof(proof, "POST", token_url, &mut st.seen_jti) {
            Ok(p) => p,
            Err(d) => {
                let r = oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof", d);
                return refuse(r, "invalid_dpop_proof");
            }
        };
        if claims["nonce"] != st.nonce.as_str() {
            let mut r = oauth_error(
                StatusCode::BAD_REQUEST,
                "use_dpop_nonce",
                "Authorization server requires nonce in DPoP proof.",
            );
            util::set_header(&mut r, "dpop-nonce", &st.nonce);
            return refuse(r, "use_dpop_nonce");
        }
        jkt = Some(thumbprint(&header["jwk"]));
    }
    let n = TOKENS.fetch_add(1, Ordering::Relaxed);
    let token = format!(
        "okta-at.{}",
        util::b64url(&util::hmac_sha256(
            b"okta-tokens",
            &[&n.to_be_bytes(), &now.to_be_bytes()]
        ))
    );
    let ttl = app.token_ttl_secs.unwrap_or(3600);
    st.tokens.push(IssuedToken {
        token: token.clone(),
        scopes: scopes.clone(),
        jkt: jkt.clone(),
        expires: now + ttl as i64,
    });
    let body = json!({
        "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": ttl, "access_token": token, "scope": scopes.join(" "),
    });
    (util::json(StatusCode::OK, &body), "issued".into())
}

/// The scope an API call needs.
fn needed_scope(method: &Method, path: &str) -> &'static [&'static str] {
    let membership = path.starts_with("/api/v1/groups/") && path.matches('/').count() == 6;
    match (method, path) {
        (&Method::PUT | &Method::DELETE, _) if membership => &["okta.groups.manage"],
        (_, p) if p.starts_with("/api/v1/groups") => &["okta.groups.read", "okta.groups.manage"],
        _ => &["okta.users.read", "okta.users.manage"],
    }
}

/// Whether an OAuth `Authorization` (`Bearer` / `DPoP`) may make this call: `Ok` or Okta's
/// answer.
pub(super) fn authorize_token(
    st: &mut OAuthState,
    authorization: &str,
    proof: Option<&str>,
    method: &Method,
    url: &str,
    path: &str,
) -> Result<(), Response> {
    let unauthorized = || super::errors::unauthorized();
    let (scheme, token) = authorization.split_once(' ').ok_or_else(unauthorized)?;
    let now = util::now_secs();
    let issued = st
        .tokens
        .iter()
        .find(|t| util::ct_eq(&t.token, token.trim()) && t.expires > now)
        .cloned()
        .ok_or_else(unauthorized)?;
    match (scheme, &issued.jkt) {
        ("Bearer", None) => {}
        ("DPoP", Some(jkt)) => {
            let (header, claims) = check_proof(proof, method.as_str(), url, &mut st.seen_jti)
                .map_err(|_| unauthorized())?;
            let ath = util::b64url(&Sha256::digest(issued.token.as_bytes()));
            if &thumbprint(&header["jwk"]) != jkt || claims["ath"] != ath {
                return Err(unauthorized());
            }
        }
        _ => return Err(unauthorized()),
    }
    if needed_scope(method, path)
        .iter()
        .any(|s| issued.scopes.iter().any(|t| t == s))
    {
        Ok(())
    } else {
        Err(okta_error(
            StatusCode::FORBIDDEN,
            "E0000006",
            "You do not have permission to perform the requested action",
            &[],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_with(scopes: &[&str]) -> OAuthState {
        OAuthState {
            tokens: vec![IssuedToken {
                token: "at1".into(),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
                jkt: None,
                expires: util::now_secs() + 60,
            }],
            ..OAuthState::default()
        }
    }

    fn refusal(r: Result<(), Response>) -> Option<StatusCode> {
        r.err().map(|resp| resp.status())
    }

    #[test]
    fn a_membership_change_needs_okta_groups_manage_and_reads_need_a_read_scope() {
        let put = (Method::PUT, "/api/v1/groups/00g1/users/00u1");
        let mut st = state_with(&["okta.users.read", "okta.groups.read"]);
        let ask = |st: &mut OAuthState, (m, p): (Method, &str), auth: &str| {
            refusal(authorize_token(st, auth, None, &m, "http://x", p))
        };
        assert_eq!(
            ask(&mut st, put.clone(), "Bearer at1"),
            Some(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            ask(&mut st, (Method::GET, "/api/v1/users/u"), "Bearer at1"),
            None
        );
        assert_eq!(
            ask(&mut st, (Method::GET, "/api/v1/groups/g"), "Bearer at1"),
            None
        );
        assert_eq!(
            ask(&mut st, (Method::GET, "/api/v1/users/u"), "Bearer other"),
            Some(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(
            ask(&mut st, (Method::GET, "/api/v1/users/u"), "DPoP at1"),
            Some(StatusCode::UNAUTHORIZED),
            "a Bearer token is not a DPoP token"
        );
        let mut st = state_with(&["okta.users.read", "okta.groups.manage"]);
        assert_eq!(ask(&mut st, put, "Bearer at1"), None);
    }
}
