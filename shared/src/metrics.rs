//! CloudWatch Embedded Metric Format (EMF): one JSON line per flush, which CloudWatch Logs
//! turns into metrics without any API call.
//!
//! Namespace `riskflow`; every metric carries the `deployment` dimension (the Terraform
//! module's `name`), so two deployments in one account never mask each other's alarms.
//! - Runs, dimensions `{deployment, flow}`: `sessions_scanned`, `tickets_created`,
//!   `comments_added`, `actions_failed`, `lag_seconds`, `blind_spot_sessions`, `cap_reached`,
//!   `watchlist_adds`, `okta_group_adds`, `workday_cancellations_held` (alarmed), ..., `duration_ms`, and one of `runs_succeeded`
//!   (a scheduled or manual run that ended succeeded or partial), `runs_skipped` (a system it
//!   needs is not connected), `runs_overlapped` (another run held the flow's lock),
//!   `runs_failed`. Webhook batches and backfills emit their counts but none of the `runs_*`,
//!   so they never keep a dead schedule looking alive.
//! - Webhook rejections: `webhook_rejected`, dimension sets `{deployment}` (what the alarm
//!   watches) and `{deployment, source, reason}` (what the operator reads).
//!
//! The lines are INFO-level as far as Lambda's log-level filtering goes (they carry no
//! `level`), which is why the Terraform module refuses an application log level above INFO.

use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex};

/// The unit of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// Metric values gathered during one run of a flow.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    values: Vec<(String, Unit, f64)>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add to a counter (created at 0 when first used).
    pub fn count(&mut self, name: &str, n: u64) {
        if let Some(v) = self
            .values
            .iter_mut()
            .find(|(k, u, _)| k == name && *u == Unit::Count)
        {
            v.2 += n as f64;
        } else {
            self.values.push((name.to_string(), Unit::Count, n as f64));
        }
    }

    /// Set a gauge.
    pub fn gauge(&mut self, name: &str, unit: Unit, value: f64) {
        self.values.retain(|(k, _, _)| k != name);
        self.values.push((name.to_string(), unit, value));
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.iter().find(|(k, _, _)| k == name).map(|v| v.2)
    }

    /// The EMF line for these values at `timestamp_ms`, with the dimension values `dims` and
    /// the dimension sets `sets` (each a list of names from `dims`).
    pub fn to_emf(&self, dims: &[(&str, &str)], sets: &[&[&str]], timestamp_ms: i64) -> String {
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": "riskflow",
                    "Dimensions": sets,
                    "Metrics": self.values.iter().map(|(k, u, _)| json!({"Name": k, "Unit": u.as_str()})).collect::<Vec<_>>(),
                }],
            }),
        );
        for (k, v) in dims {
            root.insert((*k).to_string(), Value::String((*v).to_string()));
        }
        for (k, _, v) in &self.values {
            let n = if v.fract() == 0.0 && v.abs() < 9.0e15 {
                json!(*v as i64)
            } else {
                json!(v)
            };
            root.insert(k.clone(), n);
        }
        Value::Object(root).to_string()
    }
}

/// The webhook sources a rejection is counted under; anything else (a path someone probed) is
/// `other`, so an outsider cannot mint metric dimensions.
const WEBHOOK_SOURCES: &[&str] = &["bamboohr", "generic"];

/// Where metric lines go: chosen by the composition root, not by sniffing the environment.
#[derive(Debug, Clone, Default)]
pub enum MetricsSink {
    /// Nowhere (local mode): run records and the audit trail are the local view.
    #[default]
    Off,
    /// EMF lines on stdout, which Lambda sends to CloudWatch Logs.
    Stdout { deployment: String },
    /// Kept in memory, for tests.
    Memory {
        deployment: String,
        lines: Arc<Mutex<Vec<String>>>,
    },
}

impl MetricsSink {
    /// An in-memory sink for tests.
    pub fn memory(deployment: &str) -> MetricsSink {
        MetricsSink::Memory {
            deployment: deployment.to_string(),
            lines: Arc::default(),
        }
    }

    /// The lines an in-memory sink holds, parsed.
    pub fn lines(&self) -> Vec<Value> {
        match self {
            MetricsSink::Memory { lines, .. } => lines
                .lock()
                .map(|l| {
                    l.iter()
                        .filter_map(|s| serde_json::from_str(s).ok())
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    fn write(&self, line: impl FnOnce(&str) -> String) {
        match self {
            MetricsSink::Off => {}
            MetricsSink::Stdout { deployment } => println!("{}", line(deployment)),
            MetricsSink::Memory { deployment, lines } => {
                if let Ok(mut l) = lines.lock() {
                    l.push(line(deployment));
                }
            }
        }
    }

    /// The metrics of one run of `flow`.
    pub fn run(&self, flow: &str, m: &Metrics, timestamp_ms: i64) {
        self.write(|deployment| {
            m.to_emf(
                &[("deployment", deployment), ("flow", flow)],
                &[&["deployment", "flow"]],
                timestamp_ms,
            )
        });
    }

    /// One webhook delivery refused, by source and reason.
    pub fn webhook_rejected(&self, source: &str, reason: &str, timestamp_ms: i64) {
        let source = if WEBHOOK_SOURCES.contains(&source) {
            source
        } else {
            "other"
        };
        let mut m = Metrics::new();
        m.count("webhook_rejected", 1);
        self.write(|deployment| {
            m.to_emf(
                &[
                    ("deployment", deployment),
                    ("source", source),
                    ("reason", reason),
                ],
                &[&["deployment"], &["deployment", "source", "reason"]],
                timestamp_ms,
            )
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emf_line_is_exactly_what_cloudwatch_expects() {
        let mut m = Metrics::new();
        m.count("tickets_created", 2);
        m.count("tickets_created", 1);
        m.gauge("lag_seconds", Unit::Seconds, 12.5);
        m.count("cap_reached", 0);
        assert_eq!(
            m.to_emf(
                &[("deployment", "riskflow"), ("flow", "alert-tickets")],
                &[&["deployment", "flow"]],
                1_700_000_000_000
            ),
            r#"{"_aws":{"CloudWatchMetrics":[{"Dimensions":[["deployment","flow"]],"Metrics":[{"Name":"tickets_created","Unit":"Count"},{"Name":"lag_seconds","Unit":"Seconds"},{"Name":"cap_reached","Unit":"Count"}],"Namespace":"riskflow"}],"Timestamp":1700000000000},"cap_reached":0,"deployment":"riskflow","flow":"alert-tickets","lag_seconds":12.5,"tickets_created":3}"#
        );
    }

    #[test]
    fn a_webhook_rejection_is_counted_with_a_rollup_and_never_under_an_outsiders_source() {
        let sink = MetricsSink::memory("rf-prod");
        sink.webhook_rejected("bamboohr", "bad_signature", 1);
        sink.webhook_rejected("../../etc", "unknown_source", 2);
        let lines = sink.lines();
        assert_eq!(lines[0]["webhook_rejected"], 1);
        assert_eq!(lines[0]["deployment"], "rf-prod");
        assert_eq!(lines[0]["source"], "bamboohr");
        assert_eq!(lines[0]["reason"], "bad_signature");
        assert_eq!(
            lines[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["deployment"], ["deployment", "source", "reason"]])
        );
        assert_eq!(lines[1]["source"], "other");
        MetricsSink::Off.webhook_rejected("generic", "malformed", 3);
    }
}
