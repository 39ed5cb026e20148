//! The Table API routes: list, get, create, update and delete records of a table.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::SnowHost;
use super::errors::{body_object, error, record_not_found};
use super::lifecycle::{Caller, check_insert, update_record};

/// The authenticated caller (the auth layer let only known ones through).
fn caller_of(headers: &HeaderMap) -> Caller {
    super::caller(headers).unwrap_or(Caller {
        user: String::new(),
        admin: false,
    })
}
use super::query::{cmp_values, field_value, parse_query, query_matches};
use super::render::{render, render_opts};
use super::schema::{Record, schema};
use crate::util::{self, Query, Scheme};

struct Ctx {
    table: String,
    sys_id: Option<String>,
    v1: bool,
}

fn ctx(params: &HashMap<String, String>) -> Result<Ctx, Response> {
    let v1 = match params.get("version").map(String::as_str) {
        None | Some("v2") => false,
        Some("v1") => true,
        Some(_) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "Requested URI does not represent any resource",
                None,
            ));
        }
    };
    let table = params.get("table").cloned().unwrap_or_default();
    if schema(&table).is_none() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            &format!("Invalid table {table}"),
            None,
        ));
    }
    Ok(Ctx {
        table,
        sys_id: params.get("sys_id").cloned(),
        v1,
    })
}

fn truthy(q: &Query, key: &str) -> bool {
    q.get(key).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub(super) async fn list<H: SnowHost>(
    State(h): State<H>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let c = match ctx(&params) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let q = Query::parse(raw.as_deref());
    let base = util::external_base(&headers, &uri, scheme.as_deref(), "servicenow");
    let opts = render_opts(&q, base.clone());
    let limit = q
        .get("sysparm_limit")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(10000);
    let offset = q
        .get("sysparm_offset")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let encoded = parse_query(q.get("sysparm_query").unwrap_or(""), &c.table);
    h.with_snow(|s| {
        let st = &s.snow;
        let records: Vec<Record> = if c.table == "sys_journal_field" {
            st.journal_records()
        } else {
            st.tables.get(&c.table).cloned().unwrap_or_default()
        };
        let mut hits: Vec<&Record> =
            if encoded.invalid && s.config.servicenow_invalid_query_returns_no_rows {
                Vec::new()
            } else {
                records
                    .iter()
                    .filter(|r| query_matches(st, &c.table, r, &encoded))
                    .collect()
            };
        for (field, desc) in encoded.order.iter().rev() {
            hits.sort_by(|a, b| {
                let o = cmp_values(
                    &field_value(st, &c.table, a, field),
                    &field_value(st, &c.table, b, field),
                );
                if *desc { o.reverse() } else { o }
            });
        }
        let total = hits.len();
        if c.v1 && (total == 0 || offset >= total) {
            return error(
                StatusCode::NOT_FOUND,
                "No Record found",
                Some("Records not found"),
            );
        }
        let page: Vec<Value> = hits
            .iter()
            .skip(offset)
            .take(limit)
            .map(|r| render(st, &c.table, r, &opts))
            .collect();
        let mut resp = util::json_utf8(StatusCode::OK, &json!({"result": page}));
        if !truthy(&q, "sysparm_no_count") {
            util::set_header(&mut resp, "x-total-count", &total.to_string());
        }
        if !truthy(&q, "sysparm_suppress_pagination_header") {
            let host = util::host_of(&headers, &uri);
            let scheme_s = scheme.as_deref().map(|s| s.0).unwrap_or("http");
            let link = |off: usize| {
                format!(
                    "<{scheme_s}://{host}{}?{}>",
                    uri.path(),
                    q.with(&[
                        ("sysparm_offset", off.to_string()),
                        ("sysparm_limit", limit.to_string())
                    ])
                )
            };
            let mut parts = vec![format!("{};rel=\"first\"", link(0))];
            if offset > 0 {
                parts.push(format!(
                    "{};rel=\"prev\"",
                    link(offset.saturating_sub(limit))
                ));
            }
            if offset + limit < total {
                parts.push(format!("{};rel=\"next\"", link(offset + limit)));
            }
            let last = if total == 0 {
                0
            } else {
                ((total - 1) / limit) * limit
            };
            parts.push(format!("{};rel=\"last\"", link(last)));
            util::set_header(&mut resp, "link", &parts.join(","));
        }
        resp
    })
}

pub(super) async fn get_one<H: SnowHost>(
    State(h): State<H>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let c = match ctx(&params) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let q = Query::parse(raw.as_deref());
    let base = util::external_base(&headers, &uri, scheme.as_deref(), "servicenow");
    let opts = render_opts(&q, base);
    let sys_id = c.sys_id.unwrap_or_default();
    h.with_snow(|s| {
        let rec = if c.table == "sys_journal_field" {
            s.snow
                .journal_records()
                .into_iter()
                .find(|r| r.get("sys_id") == Some(&sys_id))
        } else {
            s.snow.find(&c.table, &sys_id).cloned()
        };
        match rec {
            Some(r) => util::json_utf8(
                StatusCode::OK,
                &json!({"result": render(s.snow, &c.table, &r, &opts)}),
            ),
            None => record_not_found(),
        }
    })
}

pub(super) async fn create<H: SnowHost>(
    State(h): State<H>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let c = match ctx(&params) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if c.table == "sys_journal_field" {
        return error(
            StatusCode::FORBIDDEN,
            "Operation Failed",
            Some("Error during insert of sys_journal_field"),
        );
    }
    let caller = caller_of(&headers);
    let obj = match body_object(&body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let q = Query::parse(raw.as_deref());
    let base = util::external_base(&headers, &uri, scheme.as_deref(), "servicenow");
    let opts = render_opts(&q, base.clone());
    let input_display = truthy(&q, "sysparm_input_display_value");
    let no_body = headers
        .get("x-no-response-body")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    h.with_snow(|s| {
        let sys_id = s.ids.hex32(&c.table);
        let (rec, journal) =
            s.snow
                .new_record(&c.table, &sys_id, &obj, input_display, &caller.user);
        if c.table == "incident" {
            if let Err(resp) = check_insert(&rec, &caller) {
                return resp;
            }
        }
        let rendered = render(s.snow, &c.table, &rec, &opts);
        s.snow.store(s.ids, &c.table, rec, journal, &caller.user);
        let location = format!("{base}/api/now/table/{}/{sys_id}", c.table);
        let mut resp = if no_body {
            StatusCode::CREATED.into_response()
        } else {
            // Re-render so journal-backed display values include the new entries.
            let rendered = s
                .snow
                .find(&c.table, &sys_id)
                .map(|r| render(s.snow, &c.table, r, &opts))
                .unwrap_or(rendered);
            util::json_utf8(StatusCode::CREATED, &json!({"result": rendered}))
        };
        util::set_header(&mut resp, "location", &location);
        resp
    })
}

pub(super) async fn update<H: SnowHost>(
    State(h): State<H>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let c = match ctx(&params) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let caller = caller_of(&headers);
    let obj = match body_object(&body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let q = Query::parse(raw.as_deref());
    let base = util::external_base(&headers, &uri, scheme.as_deref(), "servicenow");
    let opts = render_opts(&q, base);
    let input_display = truthy(&q, "sysparm_input_display_value");
    let sys_id = c.sys_id.clone().unwrap_or_default();
    h.with_snow(|s| {
        match update_record(
            s.snow,
            s.ids,
            &c.table,
            &sys_id,
            &obj,
            input_display,
            &caller,
        ) {
            Ok(rec) => util::json_utf8(
                StatusCode::OK,
                &json!({"result": render(s.snow, &c.table, &rec, &opts)}),
            ),
            Err(resp) => resp,
        }
    })
}

pub(super) async fn delete<H: SnowHost>(
    State(h): State<H>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let c = match ctx(&params) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let sys_id = c.sys_id.unwrap_or_default();
    h.with_snow(|s| {
        let Some(t) = s.snow.tables.get_mut(&c.table) else {
            return record_not_found();
        };
        let before = t.len();
        t.retain(|r| r.get("sys_id") != Some(&sys_id));
        if t.len() == before {
            record_not_found()
        } else {
            StatusCode::NO_CONTENT.into_response()
        }
    })
}
