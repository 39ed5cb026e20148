//! Tokens: `POST /v1/oauth` (Basic client credentials → an HS256 JWT), the bearer check every
//! other route sits behind, and `GET /v1/customer`.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;
use serde_json::{Value, json};

use super::errors::error;
use super::state::IncydrState;
use super::{IncydrHost, TENANT_ID};
use crate::util;

#[derive(Serialize)]
struct TokenResponse {
    token_type: &'static str,
    expires_in: u64,
    access_token: String,
}

/// The API client behind the bearer token (goes into note/state `userId`).
#[derive(Clone, Debug)]
pub(super) struct Caller(pub(super) String);

fn sign_jwt(key: &[u8], claims: &Value) -> String {
    let header = util::b64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = util::b64url(claims.to_string().as_bytes());
    let signing_input = format!("{header}.{payload}");
    let sig = util::b64url(&util::hmac_sha256(key, &[signing_input.as_bytes()]));
    format!("{signing_input}.{sig}")
}

/// Verify a token: signature, expiry, generation. Returns the client id.
fn verify_jwt(s: &IncydrState, token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (h, p, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let expected = util::b64url(&util::hmac_sha256(
        &s.signing_key,
        &[h.as_bytes(), b".", p.as_bytes()],
    ));
    if !util::ct_eq(&expected, sig) {
        return None;
    }
    let claims: Value = serde_json::from_slice(&util::b64url_decode(p)?).ok()?;
    let exp = claims.get("exp")?.as_i64()?;
    let generation = claims.get("gen")?.as_u64()?;
    if exp <= util::now_secs() || generation != s.token_generation {
        return None;
    }
    Some(claims.get("sub")?.as_str()?.to_string())
}

pub(super) async fn auth<H: IncydrHost>(
    State(h): State<H>,
    mut req: Request,
    next: Next,
) -> Response {
    let caller =
        util::bearer(req.headers()).and_then(|t| h.with_incydr(|s| verify_jwt(s.incydr, &t)));
    match caller {
        Some(c) => {
            req.extensions_mut().insert(Caller(c));
            next.run(req).await
        }
        None => {
            let mut resp = error(
                StatusCode::UNAUTHORIZED,
                "Missing, invalid or expired bearer token",
            );
            util::set_header(&mut resp, "www-authenticate", "Bearer");
            resp
        }
    }
}

pub(super) async fn oauth<H: IncydrHost>(State(h): State<H>, headers: HeaderMap) -> Response {
    let Some((id, secret)) = util::basic_auth(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "Missing API client credentials");
    };
    h.with_incydr(|s| {
        let ok = s
            .config
            .incydr_clients
            .iter()
            .any(|c| util::ct_eq(&c.key, &id) && util::ct_eq(&c.secret, &secret));
        if !ok {
            return error(StatusCode::UNAUTHORIZED, "Invalid API client credentials");
        }
        let now = util::now_secs();
        let ttl = s.config.incydr_token_ttl_secs;
        let claims = json!({
            "sub": id,
            "tenantUid": TENANT_ID,
            "iat": now,
            "exp": now + ttl as i64,
            "jti": s.ids.uuid("jti"),
            "gen": s.incydr.token_generation,
        });
        let token = sign_jwt(&s.incydr.signing_key, &claims);
        util::json(
            StatusCode::OK,
            &TokenResponse {
                token_type: "bearer",
                expires_in: ttl,
                access_token: token,
            },
        )
    })
}

pub(super) async fn customer() -> Response {
    util::json(
        StatusCode::OK,
        &json!({"name": "Sandbox Tenant", "registrationKey": "SANDBOX-REG-KEY", "tenantId": TENANT_ID}),
    )
}
