//! BambooHR state: employees, the API key's owner and the webhooks the sandbox sent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::webhooks::WebhookDelivery;

/// A BambooHR employee record.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BambooEmployee {
    /// Employee id (a number as a string).
    pub id: String,
    /// Field values by BambooHR field name (`workEmail`, `status`, `terminationDate`, ...).
    pub fields: BTreeMap<String, Value>,
}

/// BambooHR state.
#[derive(Default)]
pub(crate) struct BambooState {
    pub employees: BTreeMap<String, BambooEmployee>,
    /// Id of the employee the API key belongs to (what id `0` resolves to).
    pub api_key_employee: Option<String>,
    pub deliveries: Vec<WebhookDelivery>,
}

impl BambooState {
    /// The employee behind `id`; `0` is the API key's own employee record.
    pub(crate) fn employee(&self, id: &str) -> Option<&BambooEmployee> {
        let owner = match id {
            "0" => self
                .api_key_employee
                .as_deref()
                .and_then(|o| self.employees.get(o)),
            _ => None,
        };
        owner.or_else(|| self.employees.get(id))
    }
}
