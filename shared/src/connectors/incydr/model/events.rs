//! Session file events (`GET /v1/sessions/{id}/events`): a typed subset of FileEventV2.

use super::*;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionEventsResponse {
    #[serde(default)]
    pub query_result: Option<FileEventPage>,
    /// Tolerated: a server that does not wrap the page.
    #[serde(default)]
    pub file_events: Option<Vec<FileEvent>>,
}

impl SessionEventsResponse {
    /// The events, from the `queryResult` page or the unwrapped list.
    pub(crate) fn into_events(self) -> Vec<FileEvent> {
        match (self.query_result, self.file_events) {
            (Some(page), _) => page.file_events,
            (None, Some(events)) => events,
            (None, None) => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileEventPage {
    #[serde(default, deserialize_with = "null_default")]
    pub file_events: Vec<FileEvent>,
}

/// One file event, the fields a ticket shows. Everything else is ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileEvent {
    /// ISO-8601 time of the event.
    #[serde(default, rename = "@timestamp")]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub event: Option<EventInfo>,
    #[serde(default)]
    pub user: Option<EventUser>,
    #[serde(default)]
    pub file: Option<EventFile>,
    #[serde(default)]
    pub risk: Option<EventRisk>,
    #[serde(default)]
    pub source: Option<EventSource>,
    #[serde(default)]
    pub destination: Option<EventDestination>,
}

impl FileEvent {
    pub fn event_id(&self) -> Option<&str> {
        self.event.as_ref()?.id.as_deref()
    }

    pub fn file_name(&self) -> Option<&str> {
        self.file.as_ref()?.name.as_deref()
    }

    /// Directory and name joined, when both are known.
    pub fn file_path(&self) -> Option<String> {
        let f = self.file.as_ref()?;
        match (&f.directory, &f.name) {
            (Some(d), Some(n)) => Some(format!("{d}{n}")),
            (None, Some(n)) => Some(n.clone()),
            (Some(d), None) => Some(d.clone()),
            (None, None) => None,
        }
    }

    pub fn sha256(&self) -> Option<&str> {
        self.file.as_ref()?.hash.as_ref()?.sha256.as_deref()
    }

    pub fn risk_severity(&self) -> Option<&str> {
        self.risk.as_ref()?.severity.as_deref()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventInfo {
    #[serde(default)]
    pub id: Option<String>,
    /// e.g. `file-downloaded`, `application-read`.
    #[serde(default)]
    pub action: Option<String>,
    /// e.g. `Endpoint`, `GoogleDrive`.
    #[serde(default)]
    pub observer: Option<String>,
    /// e.g. `UPLOADED`, `EMAILED`.
    #[serde(default)]
    pub vector: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub share_type: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventUser {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub device_uid: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventFile {
    #[serde(default)]
    pub name: Option<String>,
    /// Ends with a path separator.
    #[serde(default)]
    pub directory: Option<String>,
    #[serde(default)]
    pub size_in_bytes: Option<i64>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub hash: Option<EventFileHash>,
    /// The cloud provider's URL for the file (the key is always present, often `null`).
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventFileHash {
    #[serde(default)]
    pub md5: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRisk {
    #[serde(default)]
    pub score: Option<i64>,
    /// `NO_RISK`, `LOW`, `MODERATE`, `HIGH`, `CRITICAL`.
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub trusted: Option<bool>,
    #[serde(default, deserialize_with = "null_default")]
    pub indicators: Vec<EventRiskIndicator>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventRiskIndicator {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub weight: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSource {
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub domains: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDestination {
    /// e.g. `Cloud Storage`, `Email`, `Removable Media`.
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub domains: Vec<String>,
    #[serde(default)]
    pub user: Option<EventDestinationUser>,
    #[serde(default)]
    pub email: Option<EventDestinationEmail>,
    #[serde(default)]
    pub removable_media: Option<EventRemovableMedia>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventDestinationUser {
    #[serde(default, deserialize_with = "null_default")]
    pub email: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventDestinationEmail {
    #[serde(default, deserialize_with = "null_default")]
    pub recipients: Vec<String>,
    #[serde(default)]
    pub subject: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRemovableMedia {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub serial_number: Option<String>,
}
