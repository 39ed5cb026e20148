//! What creating an issue in the connection's project needs, read from the project's create
//! metadata (`GET /rest/api/3/issue/createmeta/{project}/issuetypes` and
//! `.../issuetypes/{issueTypeId}`) when the connection is verified, and stored with it
//! ([`CreateFacts`]): the issue type's id (issue types are per project, so a name is not
//! enough), whether Priority is on the create screen, and the priority each Incydr severity
//! sends, by id. A create screen that requires a field riskflow does not fill fails the
//! verification, naming the field, instead of every create. Facts: docs/vendors/jira.md.

use super::client::JiraClient;
use super::model::{CreateMetaField, IdName};
use crate::connectors::ConnectorError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Instant;

/// The system name in errors.
const SYSTEM: &str = super::client::SYSTEM;

/// The fields every create fills (priority is decided per severity, see [`CreateFacts`]).
const FILLED: [&str; 5] = ["project", "issuetype", "summary", "description", "labels"];

/// Incydr's severities 0..=4 as a person names them (index = severity).
pub const SEVERITY_NAMES: [&str; 5] = ["no risk", "low", "moderate", "high", "critical"];

/// The priority names a severity takes by default, where the project's priority scheme has
/// them (Jira's default scheme): no risk Lowest … critical Highest.
const DEFAULT_PRIORITIES: [&str; 5] = ["Lowest", "Low", "Medium", "High", "Highest"];

/// Which priority (by name, or id) each severity sends: the connection's setting.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PriorityMapping {
    /// Index = severity; `None` sends no priority.
    names: [Option<String>; 5],
    /// Set by the user: a name the project lacks is an error. Otherwise the defaults apply
    /// where the project has them, and a severity whose default it lacks sends none.
    explicit: bool,
    /// The setting as written (facts read for another mapping are not used).
    entries: Vec<String>,
}

impl PriorityMapping {
    /// The defaults (see [`DEFAULT_PRIORITIES`]).
    pub fn defaults() -> PriorityMapping {
        PriorityMapping {
            names: DEFAULT_PRIORITIES.map(|n| Some(n.to_string())),
            explicit: false,
            entries: Vec::new(),
        }
    }

    /// The setting's entries, `severity=priority` (e.g. `critical=P1`, `no risk=P4`; a
    /// severity by name or number 0–4, a priority by name or id). None: the defaults. With
    /// entries, a severity not listed sends no priority.
    pub fn parse(entries: &[String]) -> Result<PriorityMapping, String> {
        if entries.is_empty() {
            return Ok(PriorityMapping::defaults());
        }
        let mut names: [Option<String>; 5] = Default::default();
        for entry in entries {
            let (severity, priority) = entry
                .split_once('=')
                .map(|(s, p)| (s.trim(), p.trim()))
                .filter(|(s, p)| !s.is_empty() && !p.is_empty())
                .ok_or_else(|| {
                    format!("priority mapping entry \"{entry}\" is not severity=priority (e.g. critical=P1)")
                })?;
            let key = severity.to_ascii_lowercase().replace(['_', '-'], " ");
            let index = SEVERITY_NAMES
                .iter()
                .position(|n| *n == key)
                .or_else(|| key.parse::<usize>().ok().filter(|n| *n < 5))
                .ok_or_else(|| {
                    format!(
                        "priority mapping: \"{severity}\" is not an Incydr severity ({})",
                        SEVERITY_NAMES.join(", ")
                    )
                })?;
            if names[index].replace(priority.to_string()).is_some() {
                return Err(format!(
                    "priority mapping: severity {} is mapped twice",
                    SEVERITY_NAMES[index]
                ));
            }
        }
        Ok(PriorityMapping {
            names,
            explicit: true,
            entries: entries.to_vec(),
        })
    }

    /// The name (or id) a severity maps to; above 4 counts as 4.
    pub fn name_for(&self, severity: u8) -> Option<&str> {
        self.names[usize::from(severity.min(4))].as_deref()
    }

    /// Whether the user set it.
    pub fn is_explicit(&self) -> bool {
        self.explicit
    }
}

/// What creating an issue needs, read from the project when the connection is verified and
/// stored with the connection ([`crate::ports::Verified::facts`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateFacts {
    /// The project they were read from.
    pub project_key: String,
    /// The issue type setting they were read for (as the user wrote it).
    pub issue_type_setting: String,
    /// The priority mapping setting they were read for (as the user wrote it).
    #[serde(default)]
    pub priority_map_setting: Vec<String>,
    /// The issue type, as the project names it, and its id.
    pub issue_type: IdName,
    /// Whether Priority is on the create screen (sending it otherwise is a 400).
    pub priority_on_screen: bool,
    /// The priority each severity 0..=4 sends; `None`: none (the project's default applies).
    pub priorities: [Option<IdName>; 5],
}

impl CreateFacts {
    /// The priority to send for a severity (above 4 counts as 4), if any.
    pub fn priority_for(&self, severity: u8) -> Option<&IdName> {
        if !self.priority_on_screen {
            return None;
        }
        self.priorities[usize::from(severity.min(4))].as_ref()
    }

    /// As stored with the connection.
    pub fn to_facts(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }

    /// Read back from the connection, when they were read for this project, issue type and
    /// priority mapping (anything else, or facts of an older shape, is read again from Jira).
    pub fn from_facts(
        facts: &Map<String, Value>,
        project_key: &str,
        issue_type: &str,
        priority_map: &[String],
    ) -> Option<Self> {
        serde_json::from_value::<CreateFacts>(Value::Object(facts.clone()))
            .ok()
            .filter(|f| {
                f.project_key == project_key
                    && f.issue_type_setting == issue_type
                    && f.priority_map_setting == priority_map
            })
    }

    /// One line for the verification message.
    pub fn describe(&self) -> String {
        let priority = if !self.priority_on_screen {
            "no priority (Priority is not on the create screen)".to_string()
        } else {
            let mapped: Vec<String> = (0..5u8)
                .rev()
                .map(|s| {
                    let p = self.priorities[usize::from(s)]
                        .as_ref()
                        .map_or("none", |p| p.name.as_str());
                    format!("{} {p}", SEVERITY_NAMES[usize::from(s)])
                })
                .collect();
            format!("priority by severity: {}", mapped.join(", "))
        };
        format!(
            "tickets are created in {} as {} (id {}), {priority}",
            self.project_key, self.issue_type.name, self.issue_type.id
        )
    }
}

fn invalid(message: String) -> ConnectorError {
    ConnectorError::invalid(SYSTEM, message)
}

/// Read what creating an issue of `issue_type` (a name) in `project_key` needs. A type the
/// project lacks, a required field riskflow does not fill, or a mapped priority the project's
/// scheme lacks is an [`ConnectorError::Invalid`] whose message says what to change.
pub async fn learn(
    client: &JiraClient,
    project_key: &str,
    issue_type: &str,
    mapping: &PriorityMapping,
    deadline: Option<Instant>,
) -> Result<CreateFacts, ConnectorError> {
    let types = client
        .create_meta_issue_types(project_key, deadline)
        .await?;
    let usable: Vec<_> = types
        .iter()
        .filter(|t| !t.subtask && !t.id.is_empty())
        .collect();
    if usable.is_empty() {
        return Err(invalid(format!(
            "Jira project {project_key} offers this account no issue type to create (check its Create issues permission)"
        )));
    }
    let wanted = issue_type.trim();
    let chosen = usable
        .iter()
        .find(|t| t.name == wanted)
        .or_else(|| usable.iter().find(|t| t.name.eq_ignore_ascii_case(wanted)))
        .ok_or_else(|| {
            let names: Vec<&str> = usable.iter().map(|t| t.name.as_str()).collect();
            invalid(format!(
                "Jira project {project_key} has no issue type \"{wanted}\"; its issue types are: {}",
                names.join(", ")
            ))
        })?;
    let fields = client
        .create_meta_fields(project_key, &chosen.id, deadline)
        .await?;
    let priority_field = fields.iter().find(|f| f.id() == "priority");
    let priorities = match priority_field {
        Some(f) => map_priorities(project_key, f, mapping)?,
        None => [None, None, None, None, None],
    };
    let mut missing: Vec<String> = fields
        .iter()
        .filter(|f| f.required && !f.has_default_value && !FILLED.contains(&f.id()))
        .filter(|f| f.id() != "priority")
        .map(|f| format!("{} ({})", f.name, f.id()))
        .collect();
    if let Some(f) = priority_field.filter(|f| f.required && !f.has_default_value) {
        let unmapped: Vec<&str> = (0..5)
            .filter(|s| priorities[*s].is_none())
            .map(|s| SEVERITY_NAMES[s])
            .collect();
        if !unmapped.is_empty() {
            missing.push(format!(
                "{} ({}) for severity {}",
                f.name,
                f.id(),
                unmapped.join(", ")
            ));
        }
    }
    if !missing.is_empty() {
        return Err(invalid(format!(
            "Jira project {project_key} requires fields riskflow does not fill when creating a \"{}\": {}. Give them a default value in Jira, take them off the create screen, or choose another issue type",
            chosen.name,
            missing.join(", ")
        )));
    }
    Ok(CreateFacts {
        project_key: project_key.to_string(),
        issue_type_setting: issue_type.to_string(),
        priority_map_setting: mapping.entries.clone(),
        issue_type: IdName {
            id: chosen.id.clone(),
            name: chosen.name.clone(),
        },
        priority_on_screen: priority_field.is_some(),
        priorities,
    })
}

/// The priority of each severity among the priority field's allowed values (matched by name,
/// then case-insensitively, then by id).
pub(crate) fn map_priorities(
    project_key: &str,
    field: &CreateMetaField,
    mapping: &PriorityMapping,
) -> Result<[Option<IdName>; 5], ConnectorError> {
    let allowed: Vec<IdName> = field
        .allowed_values
        .iter()
        .filter_map(|v| {
            Some(IdName {
                id: v.id.clone().filter(|i| !i.is_empty())?,
                name: v.name.clone().unwrap_or_default(),
            })
        })
        .collect();
    let find = |wanted: &str| {
        allowed
            .iter()
            .find(|p| p.name == wanted)
            .or_else(|| allowed.iter().find(|p| p.name.eq_ignore_ascii_case(wanted)))
            .or_else(|| allowed.iter().find(|p| p.id == wanted))
            .cloned()
    };
    let mut out: [Option<IdName>; 5] = [None, None, None, None, None];
    let mut unknown: Vec<String> = Vec::new();
    for (severity, slot) in out.iter_mut().enumerate() {
        let Some(wanted) = mapping.names[severity].as_deref() else {
            continue;
        };
        match find(wanted) {
            Some(p) => *slot = Some(p),
            None if mapping.explicit => {
                unknown.push(format!("{} → {wanted}", SEVERITY_NAMES[severity]));
            }
            None => {}
        }
    }
    if !unknown.is_empty() {
        let names: Vec<&str> = allowed.iter().map(|p| p.name.as_str()).collect();
        return Err(invalid(format!(
            "Jira project {project_key} has no priority for {}; its priorities are: {}",
            unknown.join(", "),
            names.join(", ")
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_priority_mapping_setting_reads_severity_equals_priority_entries() {
        assert_eq!(PriorityMapping::parse(&[]), Ok(PriorityMapping::defaults()));
        let m = PriorityMapping::parse(&entries(&[
            "critical=P1",
            " High = P2 ",
            "no_risk=P4",
            "2=10003",
        ]))
        .unwrap();
        assert!(m.is_explicit());
        assert_eq!(
            [0u8, 1, 2, 3, 4, 9].map(|s| m.name_for(s)),
            [
                Some("P4"),
                None,
                Some("10003"),
                Some("P2"),
                Some("P1"),
                Some("P1")
            ]
        );
        assert_eq!(
            PriorityMapping::defaults().name_for(3),
            Some("High"),
            "the default names"
        );
        for (bad, why) in [
            ("critical", "is not severity=priority"),
            ("critical=", "is not severity=priority"),
            ("urgent=P1", "is not an Incydr severity"),
            ("5=P1", "is not an Incydr severity"),
        ] {
            let e = PriorityMapping::parse(&entries(&[bad])).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let e = PriorityMapping::parse(&entries(&["high=P1", "3=P2"])).unwrap_err();
        assert_eq!(e, "priority mapping: severity high is mapped twice");
    }

    #[test]
    fn stored_facts_are_read_back_only_for_the_same_project_and_issue_type() {
        let f = CreateFacts {
            project_key: "SEC".into(),
            issue_type_setting: "Task".into(),
            priority_map_setting: vec![],
            issue_type: IdName {
                id: "10001".into(),
                name: "Task".into(),
            },
            priority_on_screen: true,
            priorities: [
                None,
                None,
                None,
                None,
                Some(IdName {
                    id: "1".into(),
                    name: "Highest".into(),
                }),
            ],
        };
        let stored = f.to_facts();
        assert_eq!(
            CreateFacts::from_facts(&stored, "SEC", "Task", &[]),
            Some(f.clone())
        );
        assert_eq!(CreateFacts::from_facts(&stored, "OPS", "Task", &[]), None);
        assert_eq!(CreateFacts::from_facts(&stored, "SEC", "Bug", &[]), None);
        assert_eq!(
            CreateFacts::from_facts(&stored, "SEC", "Task", &["critical=P1".into()]),
            None
        );
        assert_eq!(
            CreateFacts::from_facts(&Map::new(), "SEC", "Task", &[]),
            None
        );
        assert_eq!(f.priority_for(9).map(|p| p.id.as_str()), Some("1"));
        assert_eq!(f.priority_for(0), None);
        let off = CreateFacts {
            priority_on_screen: false,
            ..f
        };
        assert_eq!(off.priority_for(4), None);
    }
}
