//! Reading an answer's body with a size cap: no vendor answer, however large or endless, is
//! read past [`MAX_BODY_BYTES`] (an error body longer than [`MAX_ERROR_BODY_BYTES`] is not read
//! for its message at all, since only a short message is ever taken from one).

use super::*;

/// The most bytes of one answer riskflow reads: generous for the largest real page (a Jira
/// search page of 100 issues, an Incydr page of sessions, a Workday report of thousands of
/// rows is well under 1 MiB), small enough that a broken or hostile server cannot exhaust a
/// Lambda's memory.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The most bytes of an error answer read for its message; the rest is dropped.
pub const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Why a body could not be read within its cap.
enum Capped {
    TooLarge,
    Transport(reqwest::Error),
}

/// Read at most `limit` bytes of `resp`: `Err(TooLarge)` as soon as the declared length or the
/// bytes received pass it (nothing past the limit is buffered).
async fn read_capped(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, Capped> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(Capped::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(Capped::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(Capped::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An answer's body, at most [`MAX_BODY_BYTES`]; a larger one is [`HttpError::TooLarge`]
/// naming the system and the cap.
pub async fn read_body(call: &Call, resp: reqwest::Response) -> Result<Vec<u8>, HttpError> {
    read_body_within(call, resp, MAX_BODY_BYTES).await
}

/// [`read_body`] with another cap.
pub async fn read_body_within(
    call: &Call,
    resp: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, HttpError> {
    read_capped(resp, limit).await.map_err(|e| match e {
        Capped::TooLarge => HttpError::TooLarge {
            system: call.system,
            method: call.method.to_string(),
            path: call.path.clone(),
            limit,
        },
        Capped::Transport(e) => transport_error(call, &e),
    })
}

/// The start of an error answer's body, for its message: at most [`MAX_ERROR_BODY_BYTES`],
/// empty when it is longer or cannot be read.
pub(crate) async fn read_error_body(resp: reqwest::Response) -> Vec<u8> {
    read_capped(resp, MAX_ERROR_BODY_BYTES)
        .await
        .unwrap_or_default()
}

/// Read a JSON body (at most [`MAX_BODY_BYTES`]), or a [`HttpError::Decode`] naming the call.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    call: &Call,
    resp: reqwest::Response,
) -> Result<T, HttpError> {
    let bytes = read_body(call, resp).await?;
    decode_json(call, &bytes)
}

/// Decode an answer's bytes as JSON into `T`, or a [`HttpError::Decode`] naming the call: the
/// decoding step of [`read_json`], on its own for what already holds the bytes (and the fuzz
/// targets, which feed it any bytes).
pub fn decode_json<T: serde::de::DeserializeOwned>(
    call: &Call,
    bytes: &[u8],
) -> Result<T, HttpError> {
    serde_json::from_slice(bytes).map_err(|e| HttpError::decode(call, e.to_string()))
}

/// `n` bytes as people read a cap: `8 MiB`, `64 KiB`, `100 bytes`.
pub fn fmt_size(n: usize) -> String {
    const MIB: usize = 1024 * 1024;
    match n {
        n if n >= MIB && n % MIB == 0 => format!("{} MiB", n / MIB),
        n if n >= 1024 && n % 1024 == 0 => format!("{} KiB", n / 1024),
        n => format!("{n} bytes"),
    }
}
