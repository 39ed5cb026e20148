//! Okta state: users and groups with their members; the seed types, seeding and the views
//! `GET /_control/state` shows.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::util::IdGen;

/// An Okta user to seed.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct OktaUserSeed {
    /// Id (`00u...`, generated when absent).
    pub id: Option<String>,
    /// Login (usually the email).
    pub login: String,
    /// Email (defaults to the login).
    pub email: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Status (default `ACTIVE`).
    pub status: Option<String>,
}

impl OktaUserSeed {
    /// An active user whose login is not (or not only) their email.
    pub fn with_email(login: &str, email: &str) -> OktaUserSeed {
        OktaUserSeed {
            login: login.into(),
            email: Some(email.into()),
            ..OktaUserSeed::default()
        }
    }
}

/// An Okta group to seed.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct OktaGroupSeed {
    /// Id (`00g...`, generated when absent).
    pub id: Option<String>,
    /// `profile.name`.
    pub name: String,
    /// `profile.description`.
    pub description: Option<String>,
    /// `OKTA_GROUP` (default), `APP_GROUP` or `BUILT_IN`.
    #[serde(rename = "type")]
    pub group_type: Option<String>,
}

/// A membership to seed: group id and user id or login.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct OktaMembership {
    /// Group id.
    pub group_id: String,
    /// User id or login.
    pub user: String,
}

/// A group rule to seed: while `ACTIVE` it assigns `users` (ids or logins: the people its
/// expression matches) to `group_ids`, and seeding it makes those memberships.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct OktaGroupRuleSeed {
    /// Id (`0pr...`, generated when absent).
    pub id: Option<String>,
    pub name: String,
    /// `ACTIVE` (default) or `INACTIVE`.
    pub status: Option<String>,
    /// The groups it assigns users to.
    pub group_ids: Vec<String>,
    /// The users its expression matches.
    pub users: Vec<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct OktaRule {
    pub id: String,
    pub name: String,
    pub status: String,
    pub group_ids: Vec<String>,
    /// User ids the expression matches.
    pub matches: Vec<String>,
    /// `conditions.people.users.exclude`: users a removal took out of the rule's reach.
    pub excluded: Vec<String>,
    pub created: Timestamp,
}

/// The most users a rule's exclusion list holds (Okta's group rules documentation).
pub(crate) const MAX_RULE_EXCLUSIONS: usize = 100;

#[derive(Clone, Debug)]
pub(crate) struct OktaUser {
    pub id: String,
    pub login: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub status: String,
    pub created: Timestamp,
}

#[derive(Clone, Debug)]
pub(crate) struct OktaGroup {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub group_type: String,
    pub created: Timestamp,
    pub membership_updated: Timestamp,
    pub members: Vec<String>,
}

/// Okta state.
pub(crate) struct OktaState {
    pub users: Vec<OktaUser>,
    pub groups: Vec<OktaGroup>,
    pub admin_id: String,
    pub rules: Vec<OktaRule>,
    /// Service apps and their tokens.
    pub oauth: super::oauth::OAuthState,
}

impl OktaState {
    pub(crate) fn new(ids: &mut IdGen) -> OktaState {
        let admin_id = ids.okta("00u");
        let created: Timestamp = "2024-01-02T03:04:05Z"
            .parse()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let everyone = OktaGroup {
            id: ids.okta("00g"),
            name: "Everyone".into(),
            description: Some("All users in your organization".into()),
            group_type: "BUILT_IN".into(),
            created,
            membership_updated: created,
            members: vec![admin_id.clone()],
        };
        OktaState {
            users: vec![OktaUser {
                id: admin_id.clone(),
                login: "okta.admin@example.com".into(),
                email: "okta.admin@example.com".into(),
                first_name: "Okta".into(),
                last_name: "Admin".into(),
                status: "ACTIVE".into(),
                created,
            }],
            groups: vec![everyone],
            admin_id,
            rules: Vec::new(),
            oauth: Default::default(),
        }
    }

    pub(crate) fn user(&self, key: &str) -> Option<&OktaUser> {
        if let Some(u) = self.users.iter().find(|u| u.id == key) {
            return Some(u);
        }
        if let Some(u) = self
            .users
            .iter()
            .find(|u| u.login.eq_ignore_ascii_case(key))
        {
            return Some(u);
        }
        let short: Vec<&OktaUser> = self
            .users
            .iter()
            .filter(|u| {
                u.login
                    .split('@')
                    .next()
                    .is_some_and(|s| s.eq_ignore_ascii_case(key))
            })
            .collect();
        if short.len() == 1 {
            Some(short[0])
        } else {
            None
        }
    }
}

impl OktaState {
    pub(crate) fn seed_user(&mut self, ids: &mut IdGen, u: OktaUserSeed) -> String {
        let id = u.id.clone().unwrap_or_else(|| ids.okta("00u"));
        self.users.retain(|x| x.id != id);
        self.users.push(OktaUser {
            id: id.clone(),
            email: u.email.clone().unwrap_or_else(|| u.login.clone()),
            login: u.login,
            first_name: u.first_name.unwrap_or_default(),
            last_name: u.last_name.unwrap_or_default(),
            status: u.status.unwrap_or_else(|| "ACTIVE".into()),
            created: Timestamp::now(),
        });
        let everyone = self.groups.iter_mut().find(|g| g.group_type == "BUILT_IN");
        if let Some(g) = everyone {
            if !g.members.contains(&id) {
                g.members.push(id.clone());
            }
        }
        id
    }

    pub(crate) fn seed_group(&mut self, ids: &mut IdGen, g: OktaGroupSeed) -> String {
        let id = g.id.clone().unwrap_or_else(|| ids.okta("00g"));
        let now = Timestamp::now();
        let members = self
            .groups
            .iter()
            .find(|x| x.id == id)
            .map(|x| x.members.clone())
            .unwrap_or_default();
        self.groups.retain(|x| x.id != id);
        self.groups.push(OktaGroup {
            id: id.clone(),
            name: g.name,
            description: g.description,
            group_type: g.group_type.unwrap_or_else(|| "OKTA_GROUP".into()),
            created: now,
            membership_updated: now,
            members,
        });
        id
    }

    pub(crate) fn seed_app(&mut self, a: super::oauth::OktaAppSeed) {
        self.oauth.apps.retain(|x| x.client_id != a.client_id);
        self.oauth.apps.push(a);
    }

    pub(crate) fn seed_membership(&mut self, m: OktaMembership) {
        let Some(uid) = self.user(&m.user).map(|u| u.id.clone()) else {
            return;
        };
        if let Some(g) = self.groups.iter_mut().find(|g| g.id == m.group_id) {
            if !g.members.contains(&uid) {
                g.members.push(uid);
            }
        }
    }

    pub(crate) fn seed_rule(&mut self, ids: &mut IdGen, r: OktaGroupRuleSeed) -> String {
        let id = r.id.clone().unwrap_or_else(|| ids.okta("0pr"));
        let matches: Vec<String> = r
            .users
            .iter()
            .filter_map(|u| self.user(u).map(|x| x.id.clone()))
            .collect();
        self.rules.retain(|x| x.id != id);
        self.rules.push(OktaRule {
            id: id.clone(),
            name: r.name,
            status: r.status.unwrap_or_else(|| "ACTIVE".into()),
            group_ids: r.group_ids,
            matches,
            excluded: Vec::new(),
            created: Timestamp::now(),
        });
        self.evaluate_rules();
        id
    }

    /// Run every active rule, as Okta does when a user's profile or a rule changes: each user a
    /// rule matches and does not exclude is put into its groups.
    pub(crate) fn evaluate_rules(&mut self) {
        let assignments: Vec<(String, String)> = self
            .rules
            .iter()
            .filter(|r| r.status == "ACTIVE")
            .flat_map(|r| {
                r.group_ids.iter().flat_map(move |g| {
                    r.matches
                        .iter()
                        .filter(|u| !r.excluded.contains(u))
                        .map(move |u| (g.clone(), u.clone()))
                })
            })
            .collect();
        for (g, u) in assignments {
            if let Some(group) = self.groups.iter_mut().find(|x| x.id == g)
                && !group.members.contains(&u)
            {
                group.members.push(u);
                group.membership_updated = Timestamp::now();
            }
        }
    }

    /// The active rules that made `user_id`'s membership of `group_id`.
    pub(crate) fn rules_managing(&mut self, group_id: &str, user_id: &str) -> Vec<&mut OktaRule> {
        self.rules
            .iter_mut()
            .filter(|r| {
                r.status == "ACTIVE"
                    && r.group_ids.iter().any(|g| g == group_id)
                    && r.matches.iter().any(|u| u == user_id)
                    && !r.excluded.iter().any(|u| u == user_id)
            })
            .collect()
    }

    /// Take a user (id or login) out of a group, as an admin does in the console.
    pub(crate) fn remove_membership(&mut self, m: OktaMembership) {
        let Some(uid) = self.user(&m.user).map(|u| u.id.clone()) else {
            return;
        };
        if let Some(g) = self.groups.iter_mut().find(|g| g.id == m.group_id) {
            g.members.retain(|x| x != &uid);
            g.membership_updated = Timestamp::now();
        }
    }

    pub(crate) fn group_views(&self) -> Vec<OktaGroupMembersView> {
        self.groups
            .iter()
            .map(|g| OktaGroupMembersView {
                group_id: g.id.clone(),
                group_name: g.name.clone(),
                group_type: g.group_type.clone(),
                member_ids: g.members.clone(),
                member_logins: g
                    .members
                    .iter()
                    .filter_map(|m| self.users.iter().find(|u| &u.id == m))
                    .map(|u| u.login.clone())
                    .collect(),
            })
            .collect()
    }
}

/// An Okta group with its members.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OktaGroupMembersView {
    /// Group id.
    pub group_id: String,
    /// Name.
    pub group_name: String,
    /// `OKTA_GROUP`, `APP_GROUP`, `BUILT_IN`.
    pub group_type: String,
    /// Member user ids.
    pub member_ids: Vec<String>,
    /// Member logins.
    pub member_logins: Vec<String>,
}
