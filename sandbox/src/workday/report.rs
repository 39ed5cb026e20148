//! `GET .../customreport2/{tenant}/{owner}/{report}`: the report rows as JSON, CSV or XML.

use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::WorkdayHost;
use super::errors::error;
use crate::util::{self, Query};

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub(super) async fn report<H: WorkdayHost>(
    State(h): State<H>,
    Path((_tenant, _owner, report)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let (rows, bare) =
        h.with_workday(|s| (s.workday.rows.clone(), s.workday.empty_without_report_entry));
    match q.get("format").map(str::to_ascii_lowercase).as_deref() {
        Some("json") if rows.is_empty() && bare => util::json(StatusCode::OK, &json!({})),
        Some("json") => util::json(StatusCode::OK, &json!({"Report_Entry": rows})),
        Some("csv") => {
            let mut cols: Vec<String> = Vec::new();
            for r in &rows {
                if let Some(o) = r.as_object() {
                    for k in o.keys() {
                        if !cols.contains(k) {
                            cols.push(k.clone());
                        }
                    }
                }
            }
            let mut out = cols
                .iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(",");
            out.push('\n');
            for r in &rows {
                let line = cols
                    .iter()
                    .map(|c| csv_field(&r.get(c).map(scalar).unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(",");
                out.push_str(&line);
                out.push('\n');
            }
            ([(header::CONTENT_TYPE, "text/csv;charset=UTF-8")], out).into_response()
        }
        None | Some("simplexml") | Some("xml") => {
            let mut out = format!(
                "<?xml version='1.0' encoding='UTF-8'?>\n<wd:Report_Data xmlns:wd=\"urn:com.workday.report/{}\">\n",
                xml_escape(&report)
            );
            for r in &rows {
                out.push_str("<wd:Report_Entry>\n");
                if let Some(o) = r.as_object() {
                    for (k, v) in o {
                        let tag = xml_escape(k);
                        out.push_str(&format!(
                            "<wd:{tag}>{}</wd:{tag}>\n",
                            xml_escape(&scalar(v))
                        ));
                    }
                }
                out.push_str("</wd:Report_Entry>\n");
            }
            out.push_str("</wd:Report_Data>\n");
            (
                [(header::CONTENT_TYPE, "application/xml;charset=UTF-8")],
                out,
            )
                .into_response()
        }
        Some(other) => error(StatusCode::BAD_REQUEST, &format!("Invalid format: {other}")),
    }
}
