//! Actors and users.

use super::*;

/// An actor (`/v1/actors`): the id watchlists v2 and the departure date take.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    #[serde(default)]
    pub actor_id: Option<String>,
    /// Usually the email address.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default, deserialize_with = "null_default")]
    pub alternate_names: Vec<String>,
    #[serde(default)]
    pub in_scope: Option<bool>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub division: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub employee_type: Option<String>,
    #[serde(default)]
    pub locality: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub manager_actor_id: Option<String>,
    #[serde(default)]
    pub parent_actor_id: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub start_date: Option<String>,
    /// `YYYY-MM-DD`: the departure date.
    #[serde(default)]
    pub end_date: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

/// How a PATCH treats one field: leave it out, send `null` (clear it), or send a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FieldUpdate<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<T> FieldUpdate<T> {
    pub fn is_keep(&self) -> bool {
        matches!(self, FieldUpdate::Keep)
    }
}

impl<T> From<Option<T>> for FieldUpdate<T> {
    /// `Some(v)` sets, `None` clears.
    fn from(v: Option<T>) -> Self {
        match v {
            Some(v) => FieldUpdate::Set(v),
            None => FieldUpdate::Clear,
        }
    }
}

/// `PATCH /v1/actors/actor/id/{actorId}`: only the fields not [`FieldUpdate::Keep`] are sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActorUpdate {
    pub notes: FieldUpdate<String>,
    pub start_date: FieldUpdate<jiff::civil::Date>,
    pub end_date: FieldUpdate<jiff::civil::Date>,
}

impl ActorUpdate {
    /// Set the departure date only: `{"endDate":"YYYY-MM-DD"}`.
    pub fn end_date(date: jiff::civil::Date) -> Self {
        ActorUpdate {
            end_date: FieldUpdate::Set(date),
            ..Default::default()
        }
    }

    /// Clear the departure date only: `{"endDate":null}`.
    pub fn clear_end_date() -> Self {
        ActorUpdate {
            end_date: FieldUpdate::Clear,
            ..Default::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.notes.is_keep() && self.start_date.is_keep() && self.end_date.is_keep()
    }
}

/// A console user (`/v1/users`). Watchlists take actor ids, not these user ids.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default, deserialize_with = "string_or_number")]
    pub legacy_user_id: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub user_id: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub legacy_org_id: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub org_id: Option<String>,
    #[serde(default)]
    pub org_guid: Option<String>,
    #[serde(default)]
    pub org_name: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub blocked: Option<bool>,
    #[serde(default)]
    pub creation_date: Option<String>,
    #[serde(default)]
    pub modification_date: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct UserPage {
    #[serde(default, deserialize_with = "null_default")]
    pub users: Vec<User>,
}
