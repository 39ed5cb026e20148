//! CloudWatch Embedded Metric Format (EMF): one JSON line per flush, which CloudWatch Logs
//! turns into metrics without any API call.
//!
//! Namespace `riskflow`, one dimension set `[["flow"]]`, units `Count` or `Seconds`.
//! Metric names: `sessions_scanned`, `tickets_created`, `comments_added`, `actions_failed`,
//! `lag_seconds`, `blind_spot_sessions`, `cap_reached`, `watchlist_adds`, `okta_group_adds`, ...

use serde_json::{Map, Value, json};

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

    /// The EMF line for these values, at `timestamp_ms`, with the `flow` dimension.
    pub fn to_emf(&self, flow: &str, timestamp_ms: i64) -> String {
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": "riskflow",
                    "Dimensions": [["flow"]],
                    "Metrics": self.values.iter().map(|(k, u, _)| json!({"Name": k, "Unit": u.as_str()})).collect::<Vec<_>>(),
                }],
            }),
        );
        root.insert("flow".into(), Value::String(flow.to_string()));
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

    /// Print the EMF line to stdout (the Lambda log stream).
    pub fn emit(&self, flow: &str, timestamp_ms: i64) {
        println!("{}", self.to_emf(flow, timestamp_ms));
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
            m.to_emf("alert-tickets", 1_700_000_000_000),
            r#"{"_aws":{"CloudWatchMetrics":[{"Dimensions":[["flow"]],"Metrics":[{"Name":"tickets_created","Unit":"Count"},{"Name":"lag_seconds","Unit":"Seconds"},{"Name":"cap_reached","Unit":"Count"}],"Namespace":"riskflow"}],"Timestamp":1700000000000},"cap_reached":0,"flow":"alert-tickets","lag_seconds":12.5,"tickets_created":3}"#
        );
    }
}
