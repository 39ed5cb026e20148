//! What a ticket says about an alert session: the new ticket's content and the comment added
//! when the session gains new data, for every job that opens tickets.

use crate::domain::{AlertSession, FileEventSummary, TicketContent, severity_name};

fn fmt_time(ms: Option<i64>) -> String {
    ms.map(crate::clock::rfc3339_of_ms)
        .unwrap_or_else(|| "unknown".into())
}

/// The ticket for a session: actor, severity, alerts with rule names, risk indicators,
/// summaries, top file events and the console link.
pub fn ticket_content(
    s: &AlertSession,
    events: &[FileEventSummary],
    link: Option<String>,
) -> TicketContent {
    let actor = s
        .actor_name
        .clone()
        .unwrap_or_else(|| s.actor_id.clone().unwrap_or_else(|| "unknown actor".into()));
    let rules: Vec<String> = s
        .triggered_alerts
        .iter()
        .map(|a| a.rule_name.clone().unwrap_or_else(|| a.rule_id.clone()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let what = if rules.is_empty() {
        "alert".to_string()
    } else {
        rules.join(", ")
    };
    let mut summary = format!(
        "Incydr {} alert: {what} ({actor})",
        severity_name(s.severity).to_lowercase()
    );
    if summary.chars().count() > 250 {
        summary = summary.chars().take(249).collect::<String>() + "…";
    }
    let mut sections = vec![(
        "Alert".to_string(),
        vec![
            format!("Actor: {actor}"),
            format!("Severity: {} ({})", severity_name(s.severity), s.severity),
            format!("State: {}", s.state.as_deref().unwrap_or("unknown")),
            format!("Session: {}", s.session_id),
            format!("Began: {}", fmt_time(s.begin_time)),
            format!("Last updated: {}", fmt_time(Some(s.last_updated))),
        ],
    )];
    if !s.triggered_alerts.is_empty() {
        sections.push((
            "Triggered alerts".into(),
            s.triggered_alerts
                .iter()
                .map(|a| match &a.rule_name {
                    Some(n) => format!("{n} (rule {}, alert {})", a.rule_id, a.alert_id),
                    None => format!("rule {} (alert {})", a.rule_id, a.alert_id),
                })
                .collect(),
        ));
    }
    if !s.risk_indicators.is_empty() {
        sections.push((
            "Risk indicators".into(),
            s.risk_indicators
                .iter()
                .map(|(n, c)| format!("{n}: {c} event(s)"))
                .collect(),
        ));
    }
    if let Some(x) = s
        .exfiltration_summary
        .as_ref()
        .filter(|x| !x.trim().is_empty())
    {
        sections.push(("Exfiltration summary".into(), vec![x.clone()]));
    }
    if let Some(x) = s.context_summary.as_ref().filter(|x| !x.trim().is_empty()) {
        sections.push(("Context summary".into(), vec![x.clone()]));
    }
    if !events.is_empty() {
        sections.push((
            "Top file events".into(),
            events
                .iter()
                .map(|e| {
                    let mut parts = vec![
                        e.timestamp.clone().unwrap_or_else(|| "?".into()),
                        e.file_name
                            .clone()
                            .unwrap_or_else(|| "(unnamed file)".into()),
                    ];
                    if let Some(sz) = e.file_size {
                        parts.push(format!("{sz} bytes"));
                    }
                    if let Some(d) = &e.destination {
                        parts.push(format!("to {d}"));
                    }
                    if let Some(r) = &e.risk_severity {
                        parts.push(r.clone());
                    }
                    if let Some(h) = &e.sha256 {
                        parts.push(format!("sha256 {h}"));
                    }
                    parts.join(" · ")
                })
                .collect(),
        ));
    }
    TicketContent {
        summary,
        severity: s.severity,
        sections,
        link,
    }
}

/// The comment for a session that gained new data.
/// The comment for a session that gained data. `marker` ends it (`riskflow reference …`): a
/// comment whose answer was lost is found again by it instead of being posted twice.
pub fn comment_content(s: &AlertSession, marker: &str) -> TicketContent {
    let mut lines = vec![
        format!("Severity: {} ({})", severity_name(s.severity), s.severity),
        format!("State: {}", s.state.as_deref().unwrap_or("unknown")),
        format!("Last updated: {}", fmt_time(Some(s.last_updated))),
        format!("Alerts: {}", s.triggered_alerts.len()),
    ];
    for a in &s.triggered_alerts {
        lines.push(format!(
            "{} (alert {})",
            a.rule_name.clone().unwrap_or_else(|| a.rule_id.clone()),
            a.alert_id
        ));
    }
    TicketContent {
        summary: format!("Incydr session {} gained new data", s.session_id),
        severity: s.severity,
        sections: vec![
            ("The Incydr session gained new data".into(), lines),
            ("riskflow".into(), vec![format!("reference {marker}")]),
        ],
        link: None,
    }
}
