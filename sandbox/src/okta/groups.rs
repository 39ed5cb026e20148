//! Groups: `GET /api/v1/groups?q|search|filter`, `/api/v1/groups/{id}`, its members, and
//! `PUT|DELETE /api/v1/groups/{g}/users/{u}` (only `OKTA_GROUP`s can change; removing a
//! membership a group rule made puts the user on the rule's exclusion list), and the group
//! rules (`GET /api/v1/groups/rules`, paged by `after`, 50 by default and 200 at most).

use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::errors::{invalid_search, not_found, okta_error};
use super::search::{eval_search, group_attr, parse_search};
use super::state::{OktaGroup, OktaUser};
use super::users::user_json;
use super::{OktaHost, base, id_page, limit_of, with_links};
use crate::util::{self, Query, Scheme};

pub(super) fn group_json(base: &str, g: &OktaGroup) -> Value {
    let object_class = match g.group_type.as_str() {
        "APP_GROUP" => "okta:windows_security_principal",
        _ => "okta:user_group",
    };
    json!({
        "id": g.id,
        "created": util::okta_time(g.created),
        "lastUpdated": util::okta_time(g.created),
        "lastMembershipUpdated": util::okta_time(g.membership_updated),
        "objectClass": [object_class],
        "type": g.group_type,
        "profile": {"name": g.name, "description": g.description},
        "_links": {
            "logo": [],
            "users": {"href": format!("{base}/api/v1/groups/{}/users", g.id)},
            "apps": {"href": format!("{base}/api/v1/groups/{}/apps", g.id)},
        },
    })
}

pub(super) async fn list_groups<H: OktaHost>(
    State(h): State<H>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let b = base(&headers, &uri, scheme.as_deref());
    let q = Query::parse(raw.as_deref());
    let mut exprs = Vec::new();
    for key in ["search", "filter"] {
        if let Some(e) = q.get(key) {
            match parse_search(e) {
                Ok(g) => exprs.push(g),
                Err(_) => return invalid_search(),
            }
        }
    }
    let prefix = q.get("q").map(str::to_lowercase);
    let limit = limit_of(&q, if prefix.is_some() { 300 } else { 10_000 });
    let after = q.get("after").map(str::to_string);
    h.with_okta(|s| {
        let mut groups: Vec<&OktaGroup> = s
            .okta
            .groups
            .iter()
            .filter(|g| {
                prefix
                    .as_ref()
                    .is_none_or(|p| g.name.to_lowercase().starts_with(p.as_str()))
            })
            .filter(|g| exprs.iter().all(|e| eval_search(e, |a| group_attr(g, a))))
            .collect();
        groups.sort_by(|a, b| a.id.cmp(&b.id));
        let rest: Vec<&OktaGroup> = groups
            .into_iter()
            .filter(|g| after.as_ref().is_none_or(|a| &g.id > a))
            .collect();
        let page: Vec<Value> = rest.iter().take(limit).map(|g| group_json(&b, g)).collect();
        let self_q = q.with(&[("limit", limit.to_string())]);
        let mut links = vec![format!("<{b}/api/v1/groups?{self_q}>; rel=\"self\"")];
        if rest.len() > limit && prefix.is_none() {
            if let Some(last) = rest.get(limit - 1) {
                let next_q = q.with(&[("after", last.id.clone()), ("limit", limit.to_string())]);
                links.push(format!("<{b}/api/v1/groups?{next_q}>; rel=\"next\""));
            }
        }
        with_links(util::json(StatusCode::OK, &page), &links)
    })
}

pub(super) async fn get_group<H: OktaHost>(
    State(h): State<H>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(group_id): Path<String>,
) -> Response {
    let b = base(&headers, &uri, scheme.as_deref());
    h.with_okta(|s| match s.okta.groups.iter().find(|g| g.id == group_id) {
        Some(g) => util::json(StatusCode::OK, &group_json(&b, g)),
        None => not_found(&group_id, "UserGroup"),
    })
}

pub(super) async fn group_users<H: OktaHost>(
    State(h): State<H>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(group_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let b = base(&headers, &uri, scheme.as_deref());
    let q = Query::parse(raw.as_deref());
    let limit = limit_of(&q, 1000);
    let after = q.get("after").map(str::to_string);
    h.with_okta(|s| {
        let Some(g) = s.okta.groups.iter().find(|g| g.id == group_id) else {
            return not_found(&group_id, "UserGroup");
        };
        let mut members: Vec<&OktaUser> = s
            .okta
            .users
            .iter()
            .filter(|u| g.members.contains(&u.id))
            .collect();
        members.sort_by(|a, b| a.id.cmp(&b.id));
        let rest: Vec<&OktaUser> = members
            .into_iter()
            .filter(|u| after.as_ref().is_none_or(|a| &u.id > a))
            .collect();
        let path = format!("{b}/api/v1/groups/{group_id}/users");
        id_page(&path, &rest, limit, |u| &u.id, |u| user_json(&b, u))
    })
}

fn change_membership<H: OktaHost>(h: &H, group_id: &str, user_id: &str, add: bool) -> Response {
    h.with_okta(|s| {
        let Some(gi) = s.okta.groups.iter().position(|g| g.id == group_id) else {
            return not_found(group_id, "UserGroup");
        };
        if !s.okta.users.iter().any(|u| u.id == user_id) {
            return not_found(user_id, "User");
        }
        if s.okta.groups[gi].group_type == "OKTA_GROUP" && !add {
            // Removing a membership a rule made puts the user on the rule's exclusion list
            // (else the rule would add them back); a full list refuses the removal.
            let mut rules = s.okta.rules_managing(group_id, user_id);
            if rules
                .iter()
                .any(|r| r.excluded.len() >= super::state::MAX_RULE_EXCLUSIONS)
            {
                return okta_error(
                    StatusCode::BAD_REQUEST,
                    "E0000001",
                    "Api validation failed: exclusions",
                    &["The group rule's list of excluded users is full (100 users)."],
                );
            }
            for r in rules.iter_mut() {
                r.excluded.push(user_id.to_string());
            }
        }
        let g = &mut s.okta.groups[gi];
        if g.group_type != "OKTA_GROUP" {
            return okta_error(
                StatusCode::FORBIDDEN,
                "E0000006",
                "You do not have permission to perform the requested action",
                &[&format!(
                    "Group memberships of {} groups cannot be modified through the API.",
                    g.group_type
                )],
            );
        }
        let present = g.members.iter().any(|m| m == user_id);
        if add && !present {
            g.members.push(user_id.to_string());
            g.membership_updated = Timestamp::now();
        } else if !add && present {
            g.members.retain(|m| m != user_id);
            g.membership_updated = Timestamp::now();
        }
        StatusCode::NO_CONTENT.into_response()
    })
}

pub(super) async fn add_member<H: OktaHost>(
    State(h): State<H>,
    Path((group_id, user_id)): Path<(String, String)>,
) -> Response {
    change_membership(&h, &group_id, &user_id, true)
}

pub(super) async fn remove_member<H: OktaHost>(
    State(h): State<H>,
    Path((group_id, user_id)): Path<(String, String)>,
) -> Response {
    change_membership(&h, &group_id, &user_id, false)
}

fn rule_json(r: &super::state::OktaRule) -> Value {
    json!({
        "type": "group_rule",
        "id": r.id,
        "status": r.status,
        "name": r.name,
        "created": util::okta_time(r.created),
        "lastUpdated": util::okta_time(r.created),
        "conditions": {
            "people": {"users": {"exclude": r.excluded}, "groups": {"exclude": []}},
            "expression": {"value": format!("user.login matches one of {} users", r.matches.len()), "type": "urn:okta:expression:1.0"},
        },
        "actions": {"assignUserToGroups": {"groupIds": r.group_ids}},
    })
}

/// `GET /api/v1/groups/rules?limit&after&search`: rules sorted by id; `search` matches names.
pub(super) async fn list_rules<H: OktaHost>(
    State(h): State<H>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let b = base(&headers, &uri, scheme.as_deref());
    let q = Query::parse(raw.as_deref());
    let limit = limit_of(&q, 50).min(200);
    let after = q.get("after").map(str::to_string);
    let search = q.get("search").map(str::to_lowercase);
    h.with_okta(|s| {
        let mut rules: Vec<&super::state::OktaRule> = s
            .okta
            .rules
            .iter()
            .filter(|r| {
                search
                    .as_ref()
                    .is_none_or(|k| r.name.to_lowercase().contains(k.as_str()))
            })
            .filter(|r| after.as_ref().is_none_or(|a| &r.id > a))
            .collect();
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        let path = format!("{b}/api/v1/groups/rules");
        id_page(&path, &rules, limit, |r| &r.id, |r| rule_json(r))
    })
}
