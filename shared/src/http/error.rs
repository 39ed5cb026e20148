//! What an outbound call that failed says: the system, method, path and status; never a secret,
//! a query string or a response body.

use super::*;

/// An outbound call failed. Carries the system, method, path and status; never a secret, a
/// query string or a response body (only a message the connector extracted from a known error
/// envelope).
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    #[error("{system} answered {status} to {method} {path}{}", fmt_msg(.message))]
    Status {
        system: &'static str,
        method: String,
        path: String,
        status: u16,
        message: Option<String>,
        retry_after: Option<Duration>,
    },
    #[error("{system} {method} {path}: {kind}")]
    Transport {
        system: &'static str,
        method: String,
        path: String,
        kind: TransportKind,
    },
    #[error("{system} {method} {path}: {reason}")]
    Blocked {
        system: &'static str,
        method: String,
        path: String,
        reason: UrlError,
    },
    #[error("{system} {method} {path}: unexpected response: {detail}")]
    Decode {
        system: &'static str,
        method: String,
        path: String,
        detail: String,
    },
    /// The answer was longer than riskflow reads of one answer ([`MAX_BODY_BYTES`]).
    #[error("{system} {method} {path}: the answer is larger than {}, the most riskflow reads of one answer", fmt_size(*.limit))]
    TooLarge {
        system: &'static str,
        method: String,
        path: String,
        limit: usize,
    },
    #[error("{detail}")]
    Config { detail: String },
}

fn fmt_msg(m: &Option<String>) -> String {
    m.as_ref().map(|m| format!(": {m}")).unwrap_or_default()
}

/// What went wrong below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransportKind {
    #[error("could not connect")]
    Connect,
    #[error("timed out")]
    Timeout,
    /// The connection broke after the request may have been sent.
    #[error("connection failed during the request")]
    Broken,
}

impl HttpError {
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the same call may succeed later (5xx, 429, transport). 4xx other than 429 are final.
    pub fn is_transient(&self) -> bool {
        match self {
            HttpError::Status { status, .. } => *status == 429 || *status >= 500,
            HttpError::Transport { .. } => true,
            _ => false,
        }
    }

    /// Whether a creating request may have been acted on by the server (its answer was lost).
    pub fn outcome_unknown(&self) -> bool {
        match self {
            HttpError::Status { status, .. } => *status >= 500,
            HttpError::Transport { kind, .. } => *kind != TransportKind::Connect,
            HttpError::Decode { .. } | HttpError::TooLarge { .. } => true,
            _ => false,
        }
    }

    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    /// A decode error for a call.
    pub fn decode(call: &Call, detail: impl Into<String>) -> Self {
        HttpError::Decode {
            system: call.system,
            method: call.method.to_string(),
            path: call.path.clone(),
            detail: detail.into(),
        }
    }
}
