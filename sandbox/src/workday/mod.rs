//! Fake Workday Report-as-a-Service
//! (<https://doc.workday.com/admin-guide/en-us/integration/workday-reports/report-as-a-service-raas.html>).
//!
//! Served under `/workday`:
//! `GET /workday/ccx/service/customreport2/{tenant}/{owner}/{report}?format=json` with Basic
//! `ISU_demo@{tenant}:workday-demo` → `{"Report_Entry":[...]}` (the bare `ISU_demo` is 401,
//! as Workday authenticates an integration system user as `user@tenant`). The rows are
//! whatever the control API set (`PUT /_control/workday/rows`, `seed.workday_rows`), with
//! customer-style column names (`Employee_ID`, `Worker`, `Email_-_Work`, `Termination_Date`,
//! `Last_Day_of_Work`, `Primary_Termination_Reason`, `Business_Process_Event_WID`); every
//! report path serves the same rows, any number of them (RaaS has no paging). A report without
//! rows answers `{"Report_Entry":[]}`, or `{}` as Workday does by several accounts once the
//! control API says so (`PUT /_control/workday/empty-answer`). A row is served as set, so a
//! malformed row (no email, a list where a value belongs) reaches the client as it would. `format=csv` gives CSV; no `format` (or `simplexml`)
//! gives Workday's XML. Report prompts (other query parameters) are accepted and ignored.
//! Wrong credentials → 401 with a `WWW-Authenticate` header.

mod errors;
mod report;
mod state;

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::creds;
use crate::util;

pub(crate) use errors::Faults;
pub(crate) use state::WorkdayState;

/// What the Workday handlers need from the sandbox that serves them. The sandbox implements
/// it over its one state lock, so this module does not depend on how the sandbox is composed.
pub(crate) trait WorkdayHost: Clone + Send + Sync + 'static {
    /// Run `f` with the state locked.
    fn with_workday<R>(&self, f: impl FnOnce(&mut WorkdayCtx<'_>) -> R) -> R;
}

/// The part of the sandbox state the Workday handlers read.
pub(crate) struct WorkdayCtx<'a> {
    /// The report rows.
    pub workday: &'a mut WorkdayState,
}

pub(crate) fn router<H: WorkdayHost>() -> Router<H> {
    Router::new()
        .route(
            "/ccx/service/customreport2/{tenant}/{owner}/{report}",
            get(report::report::<H>),
        )
        .route_layer(middleware::from_fn(auth))
        .method_not_allowed_fallback(util::method_not_allowed)
        .fallback(fallback)
}

async fn fallback() -> Response {
    errors::error(StatusCode::NOT_FOUND, "Not Found")
}

/// Basic `ISU_demo@{tenant}:workday-demo`; else 401. Workday authenticates an integration
/// system user as `user@tenant`: the bare `ISU_demo` is refused like a wrong password.
async fn auth(Path(params): Path<HashMap<String, String>>, req: Request, next: Next) -> Response {
    let tenant = params.get("tenant").map(String::as_str).unwrap_or_default();
    let ok = util::basic_auth(req.headers()).is_some_and(|(u, p)| {
        util::ct_eq(&u, &format!("{}@{tenant}", creds::WORKDAY_USER))
            && util::ct_eq(&p, creds::WORKDAY_PASSWORD)
    });
    if !ok {
        let mut resp = (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
        util::set_header(&mut resp, "www-authenticate", "Basic realm=\"Workday\"");
        return resp;
    }
    next.run(req).await
}
