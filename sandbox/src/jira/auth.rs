//! Basic `demo@example.com:jira-demo-token`. Wrong credentials are refused with the 401 on
//! every authenticated route; a request without credentials is anonymous, which some routes
//! refuse with the same 401 and others answer in their own way (see the module docs).

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

use super::errors::unauthorized;
use crate::creds;
use crate::util;

/// Who the caller is, as the handlers behind [`reject_bad_credentials`] and
/// [`identify_caller`] see it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Auth {
    Ok,
    Anonymous,
    Bad,
}

fn check_auth(headers: &HeaderMap) -> Auth {
    match util::basic_auth(headers) {
        None => Auth::Anonymous,
        Some((u, p)) => {
            if util::ct_eq(&u, creds::JIRA_EMAIL) && util::ct_eq(&p, creds::JIRA_API_TOKEN) {
                Auth::Ok
            } else {
                Auth::Bad
            }
        }
    }
}

/// Only the demo account gets through; anonymous and wrong credentials get the 401.
pub(super) async fn require_credentials(req: Request, next: Next) -> Response {
    if check_auth(req.headers()) != Auth::Ok {
        return unauthorized();
    }
    next.run(req).await
}

/// Wrong credentials get the 401; the demo account and anonymous callers get through, with
/// an [`Auth`] extension saying which.
pub(super) async fn reject_bad_credentials(mut req: Request, next: Next) -> Response {
    let auth = check_auth(req.headers());
    if auth == Auth::Bad {
        return unauthorized();
    }
    req.extensions_mut().insert(auth);
    next.run(req).await
}

/// Refuse nobody; add an [`Auth`] extension saying who the caller is. For search, which
/// answers a malformed query with its 400 before it looks at the credentials.
pub(super) async fn identify_caller(mut req: Request, next: Next) -> Response {
    let auth = check_auth(req.headers());
    req.extensions_mut().insert(auth);
    next.run(req).await
}
