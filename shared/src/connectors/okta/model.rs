//! Okta Management API wire types: users, groups, rate-limit headers.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A string-backed enum that keeps values it does not know.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($variant,)+
            /// A value this version does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s.as_str(),
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $($text => $name::$variant,)+
                    _ => $name::Other(s),
                }
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.as_str().to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// A user's lifecycle status.
    UserStatus {
        Staged => "STAGED",
        Provisioned => "PROVISIONED",
        Active => "ACTIVE",
        Recovery => "RECOVERY",
        PasswordExpired => "PASSWORD_EXPIRED",
        LockedOut => "LOCKED_OUT",
        Suspended => "SUSPENDED",
        Deprovisioned => "DEPROVISIONED",
    }
}

string_enum! {
    /// A group's type. Only `OKTA_GROUP` members can be changed through the API.
    GroupType {
        OktaGroup => "OKTA_GROUP",
        AppGroup => "APP_GROUP",
        BuiltIn => "BUILT_IN",
    }
}

/// An Okta user (subset).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// e.g. `00u…`.
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub status: Option<UserStatus>,
    #[serde(default)]
    pub profile: UserProfile,
    #[serde(default)]
    pub last_updated: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserProfile {
    #[serde(default)]
    pub login: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
}

/// An Okta group (subset).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// e.g. `00g…`.
    #[serde(default)]
    pub id: String,
    #[serde(default, rename = "type")]
    pub group_type: Option<GroupType>,
    #[serde(default)]
    pub profile: GroupProfile,
    #[serde(default)]
    pub last_membership_updated: Option<String>,
}

impl Group {
    /// The group's name, or its id when it has none.
    pub fn name(&self) -> &str {
        self.profile.name.as_deref().unwrap_or(&self.id)
    }
}

/// A group rule (`GET /api/v1/groups/rules`): while `ACTIVE`, it assigns the users its
/// expression matches to `actions.assignUserToGroups.groupIds`. Removing a user a rule assigned
/// puts them on the rule's exclusion list (Okta's group rules documentation), so riskflow never
/// removes a membership from a group a rule assigns to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRule {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// `ACTIVE`, `INACTIVE` or `INVALID`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub actions: GroupRuleActions,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupRuleActions {
    #[serde(default)]
    pub assign_user_to_groups: Option<GroupRuleAssignment>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupRuleAssignment {
    #[serde(default)]
    pub group_ids: Vec<String>,
}

impl GroupRule {
    /// Whether the rule is active and assigns users to `group_id`.
    pub fn assigns_to(&self, group_id: &str) -> bool {
        self.status == "ACTIVE"
            && self
                .actions
                .assign_user_to_groups
                .as_ref()
                .is_some_and(|a| a.group_ids.iter().any(|g| g == group_id))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupProfile {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// The `X-Rate-Limit-*` headers of the last successful response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RateLimit {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// UTC epoch seconds.
    pub reset: Option<u64>,
}

impl RateLimit {
    pub(crate) fn from_headers(h: &reqwest::header::HeaderMap) -> Option<RateLimit> {
        let num = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let rl = RateLimit {
            limit: num("x-rate-limit-limit"),
            remaining: num("x-rate-limit-remaining"),
            reset: num("x-rate-limit-reset"),
        };
        (rl != RateLimit::default()).then_some(rl)
    }
}
