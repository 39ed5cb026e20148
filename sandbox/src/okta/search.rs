//! Search expressions (`search=` / `filter=`), e.g.
//! `profile.name eq "x" and type eq "OKTA_GROUP"`: `eq`, `sw`, `co`, `ne`, `gt`, `lt`, `ge`,
//! `le` joined by `and` / `or`.

use super::state::{OktaGroup, OktaUser};
use crate::util;

type Clause = (String, String, String);

pub(super) fn parse_search(expr: &str) -> Result<Vec<Vec<Clause>>, String> {
    let mut toks: Vec<String> = Vec::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
        } else if chars[i] == '"' {
            let mut s = String::from("\"");
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                s.push(chars[i]);
                i += 1;
            }
            if i >= chars.len() {
                return Err("Unterminated string".into());
            }
            i += 1;
            toks.push(s);
        } else {
            let mut s = String::new();
            while i < chars.len() && !chars[i].is_whitespace() {
                s.push(chars[i]);
                i += 1;
            }
            toks.push(s);
        }
    }
    let mut groups: Vec<Vec<Clause>> = vec![Vec::new()];
    let mut i = 0;
    while i < toks.len() {
        if i > 0 {
            match toks[i].to_ascii_lowercase().as_str() {
                "and" => {}
                "or" => groups.push(Vec::new()),
                _ => return Err("Expected and/or".into()),
            }
            i += 1;
        }
        let (Some(attr), Some(op), Some(val)) = (toks.get(i), toks.get(i + 1), toks.get(i + 2))
        else {
            return Err("Incomplete expression".into());
        };
        let op = op.to_ascii_lowercase();
        if !["eq", "sw", "co", "ne", "gt", "lt", "ge", "le"].contains(&op.as_str()) {
            return Err(format!("Unknown operator {op}"));
        }
        let val = val
            .strip_prefix('"')
            .map(str::to_string)
            .unwrap_or_else(|| val.clone());
        if let Some(g) = groups.last_mut() {
            g.push((attr.clone(), op, val));
        }
        i += 3;
    }
    Ok(groups)
}

pub(super) fn eval_search(groups: &[Vec<Clause>], get: impl Fn(&str) -> Option<String>) -> bool {
    groups.iter().any(|g| {
        g.iter().all(|(attr, op, val)| {
            let Some(have) = get(attr) else {
                return false;
            };
            let (h, v) = (have.to_lowercase(), val.to_lowercase());
            match op.as_str() {
                "eq" => h == v,
                "ne" => h != v,
                "sw" => h.starts_with(&v),
                "co" => h.contains(&v),
                "gt" => h > v,
                "lt" => h < v,
                "ge" => h >= v,
                "le" => h <= v,
                _ => false,
            }
        })
    })
}

pub(super) fn group_attr(g: &OktaGroup, attr: &str) -> Option<String> {
    Some(match attr {
        "profile.name" => g.name.clone(),
        "profile.description" => g.description.clone().unwrap_or_default(),
        "type" => g.group_type.clone(),
        "id" => g.id.clone(),
        "lastUpdated" | "lastMembershipUpdated" => util::okta_time(g.membership_updated),
        _ => return None,
    })
}

pub(super) fn user_attr(u: &OktaUser, attr: &str) -> Option<String> {
    Some(match attr {
        "profile.login" => u.login.clone(),
        "profile.email" => u.email.clone(),
        "profile.firstName" => u.first_name.clone(),
        "profile.lastName" => u.last_name.clone(),
        "status" => u.status.clone(),
        "id" => u.id.clone(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_expressions_parse_and_match() {
        let g = parse_search(r#"profile.name eq "Departing-Restricted" and type eq "OKTA_GROUP""#)
            .unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].len(), 2);
        assert!(eval_search(&g, |a| match a {
            "profile.name" => Some("Departing-Restricted".into()),
            "type" => Some("OKTA_GROUP".into()),
            _ => None,
        }));
        assert!(parse_search("profile.name zz \"x\"").is_err());
        assert!(parse_search("profile.name eq").is_err());
    }
}
