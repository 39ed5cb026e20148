//! The JQL subset the fake understands
//! (<https://support.atlassian.com/jira-software-cloud/docs/use-advanced-search-with-jira-query-language-jql/>):
//! clauses on `project`, `labels`, `key`/`issuekey`, `id`, `issuetype`/`type`, `status`,
//! `priority`, `summary ~` and `text ~` with `=`, `!=`, `~`, `!~`, `IN (...)`, `NOT IN (...)`,
//! `IS [NOT] EMPTY`, joined by `AND`/`OR` (AND binds tighter, no parentheses), plus
//! `ORDER BY f [ASC|DESC], ...`. `statusCategory` (by name, key or id) and `resolution`
//! (`Unresolved` is empty) take the same operators; the dates `updated` and `created` take
//! `=`, `!=`, `<`, `<=`, `>`, `>=` with a relative date (`-15m`, `+1d`; units `y M w d h m`)
//! or an absolute one (`"yyyy/MM/dd HH:mm"`, `"yyyy-MM-dd HH:mm"`, `yyyy/MM/dd`,
//! `yyyy-MM-dd`) read in the API user's time zone (UTC here), to the minute.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use super::PRIORITIES;
use super::state::{JiraIssue, JiraState};
use super::workflow::status_of;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(String),
    LParen,
    RParen,
    Comma,
}

fn tokenize(jql: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = jql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            let q = c;
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != q {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                s.push(chars[i]);
                i += 1;
            }
            if i >= chars.len() {
                return Err("Error in the JQL Query: Unterminated string literal.".into());
            }
            i += 1;
            out.push(Tok::Quoted(s));
        } else if c == '(' {
            out.push(Tok::LParen);
            i += 1;
        } else if c == ')' {
            out.push(Tok::RParen);
            i += 1;
        } else if c == ',' {
            out.push(Tok::Comma);
            i += 1;
        } else if "=!~<>".contains(c) {
            let mut op = c.to_string();
            if i + 1 < chars.len() && "=~".contains(chars[i + 1]) && c != '=' && c != '~' {
                op.push(chars[i + 1]);
                i += 1;
            }
            out.push(Tok::Op(op));
            i += 1;
        } else {
            let mut s = String::new();
            while i < chars.len() && !chars[i].is_whitespace() && !"()=,!~<>\"'".contains(chars[i])
            {
                s.push(chars[i]);
                i += 1;
            }
            out.push(Tok::Word(s));
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
pub(super) enum Cond {
    Eq {
        field: String,
        value: String,
        neg: bool,
    },
    In {
        field: String,
        values: Vec<String>,
        neg: bool,
    },
    Contains {
        field: String,
        text: String,
        neg: bool,
    },
    Empty {
        field: String,
        neg: bool,
    },
    Date {
        field: String,
        op: String,
        at: Timestamp,
    },
}

#[derive(Debug, Clone)]
pub(super) struct Jql {
    pub(super) groups: Vec<Vec<Cond>>,
    pub(super) order: Vec<(String, bool)>,
}

const JQL_FIELDS: [&str; 15] = [
    "statuscategory",
    "resolution",
    "updated",
    "created",
    "project",
    "labels",
    "key",
    "issuekey",
    "id",
    "issuetype",
    "type",
    "status",
    "priority",
    "summary",
    "text",
];

fn canonical_field(f: &str) -> Result<String, String> {
    let lower = f.to_ascii_lowercase();
    if JQL_FIELDS.contains(&lower.as_str()) {
        Ok(match lower.as_str() {
            "issuekey" => "key".into(),
            "type" => "issuetype".into(),
            "statuscategory" => "statusCategory".into(),
            other => other.to_string(),
        })
    } else {
        Err(format!(
            "Field '{f}' does not exist or you do not have permission to view it."
        ))
    }
}

pub(super) fn parse_jql(jql: &str) -> Result<Jql, String> {
    let toks = tokenize(jql)?;
    let mut i = 0;
    let mut groups: Vec<Vec<Cond>> = vec![Vec::new()];
    let mut order = Vec::new();
    let word_is =
        |t: Option<&Tok>, w: &str| matches!(t, Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w));
    let value_of = |t: Option<&Tok>| -> Option<String> {
        match t {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => Some(w.clone()),
            _ => None,
        }
    };
    let mut expect_clause = true;
    while i < toks.len() {
        if word_is(toks.get(i), "order") && word_is(toks.get(i + 1), "by") {
            i += 2;
            loop {
                let Some(f) = value_of(toks.get(i)) else {
                    return Err(
                        "Error in the JQL Query: Expecting a field name after 'ORDER BY'.".into(),
                    );
                };
                let f = match f.to_ascii_lowercase().as_str() {
                    "created" | "updated" | "key" | "issuekey" | "priority" | "summary" | "id" => {
                        f.to_ascii_lowercase()
                    }
                    _ => {
                        return Err(format!(
                            "Field '{f}' does not exist or you do not have permission to view it."
                        ));
                    }
                };
                i += 1;
                let mut desc = false;
                if word_is(toks.get(i), "desc") {
                    desc = true;
                    i += 1;
                } else if word_is(toks.get(i), "asc") {
                    i += 1;
                }
                order.push((f, desc));
                if toks.get(i) == Some(&Tok::Comma) {
                    i += 1;
                    continue;
                }
                break;
            }
            if i < toks.len() {
                return Err(
                    "Error in the JQL Query: Expecting end of query after ORDER BY.".into(),
                );
            }
            break;
        }
        if !expect_clause {
            if word_is(toks.get(i), "and") {
                i += 1;
                expect_clause = true;
                continue;
            }
            if word_is(toks.get(i), "or") {
                i += 1;
                groups.push(Vec::new());
                expect_clause = true;
                continue;
            }
            return Err(format!(
                "Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{}'.",
                tok_text(&toks[i])
            ));
        }
        let Some(Tok::Word(field)) = toks.get(i) else {
            return Err("Error in the JQL Query: Expecting a field name.".into());
        };
        let field = canonical_field(field)?;
        i += 1;
        let cond = match toks.get(i) {
            Some(Tok::Op(op)) => {
                let op = op.clone();
                i += 1;
                let Some(val) = value_of(toks.get(i)) else {
                    return Err(format!(
                        "Error in the JQL Query: Expecting a value after '{op}'."
                    ));
                };
                i += 1;
                match op.as_str() {
                    "=" | "!=" | "<" | "<=" | ">" | ">=" if is_date(&field) => Cond::Date {
                        at: parse_date(&val, Timestamp::now())?,
                        field,
                        op,
                    },
                    "=" => Cond::Eq {
                        field,
                        value: val,
                        neg: false,
                    },
                    "!=" => Cond::Eq {
                        field,
                        value: val,
                        neg: true,
                    },
                    "~" => Cond::Contains {
                        field,
                        text: val,
                        neg: false,
                    },
                    "!~" => Cond::Contains {
                        field,
                        text: val,
                        neg: true,
                    },
                    other => {
                        return Err(format!(
                            "The operator '{other}' is not supported by the sandbox for field '{field}'."
                        ));
                    }
                }
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") || w.eq_ignore_ascii_case("not") => {
                let neg = w.eq_ignore_ascii_case("not");
                i += 1;
                if neg {
                    if !word_is(toks.get(i), "in") {
                        return Err("Error in the JQL Query: Expecting 'IN' after 'NOT'.".into());
                    }
                    i += 1;
                }
                if toks.get(i) != Some(&Tok::LParen) {
                    return Err("Error in the JQL Query: Expecting '(' after 'IN'.".into());
                }
                i += 1;
                let mut values = Vec::new();
                loop {
                    let Some(v) = value_of(toks.get(i)) else {
                        return Err("Error in the JQL Query: Expecting a value in the list.".into());
                    };
                    values.push(v);
                    i += 1;
                    match toks.get(i) {
                        Some(Tok::Comma) => i += 1,
                        Some(Tok::RParen) => {
                            i += 1;
                            break;
                        }
                        _ => return Err("Error in the JQL Query: Expecting ',' or ')'.".into()),
                    }
                }
                Cond::In { field, values, neg }
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("is") => {
                i += 1;
                let mut neg = false;
                if word_is(toks.get(i), "not") {
                    neg = true;
                    i += 1;
                }
                if !(word_is(toks.get(i), "empty") || word_is(toks.get(i), "null")) {
                    return Err("Error in the JQL Query: Expecting EMPTY or NULL after IS.".into());
                }
                i += 1;
                Cond::Empty { field, neg }
            }
            _ => {
                return Err(format!(
                    "Error in the JQL Query: Expecting operator after '{field}'."
                ));
            }
        };
        if let Some(g) = groups.last_mut() {
            g.push(cond);
        }
        expect_clause = false;
    }
    if expect_clause && groups.iter().any(|g| !g.is_empty()) {
        return Err("Error in the JQL Query: The query ends unexpectedly.".into());
    }
    groups.retain(|g| !g.is_empty());
    Ok(Jql { groups, order })
}

fn is_date(field: &str) -> bool {
    matches!(field, "updated" | "created")
}

/// A JQL date: relative (`-15m`, `+2d`, `-1w`) from `now`, or absolute in the user's time
/// zone (UTC), to the minute.
fn parse_date(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    let bad = || {
        format!(
            "Date value '{text}' for field is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
        )
    };
    let t = text.trim();
    if let Some(rest) = t.strip_prefix(['-', '+']).or(Some(t).filter(|t| {
        t.chars().last().is_some_and(|c| "yMwdhm".contains(c))
            && t[..t.len() - 1].chars().all(|c| c.is_ascii_digit())
            && t.len() > 1
    })) {
        let sign: i64 = if t.starts_with('-') { -1 } else { 1 };
        let mut span = Span::new();
        for part in rest.split_whitespace() {
            let unit = part.chars().last().ok_or_else(bad)?;
            let n: i64 = part[..part.len() - unit.len_utf8()]
                .parse()
                .map_err(|_| bad())?;
            let n = n * sign;
            span = match unit {
                'y' => span.years(n),
                'M' => span.months(n),
                'w' => span.weeks(n),
                'd' => span.days(n),
                'h' => span.hours(n),
                'm' => span.minutes(n),
                _ => return Err(bad()),
            };
        }
        return now
            .to_zoned(TimeZone::UTC)
            .checked_add(span)
            .map(|z| z.timestamp())
            .map_err(|_| bad());
    }
    let normal = t.replace('/', "-");
    let with_time = if normal.len() == 10 {
        format!("{normal}T00:00")
    } else {
        normal.replacen(' ', "T", 1)
    };
    let dt: DateTime = with_time.parse().map_err(|_| bad())?;
    dt.to_zoned(TimeZone::UTC)
        .map(|z| z.timestamp())
        .map_err(|_| bad())
}

/// A time cut to the minute, as JQL compares dates.
fn minute(t: Timestamp) -> i64 {
    t.as_second().div_euclid(60)
}

fn tok_text(t: &Tok) -> String {
    match t {
        Tok::Word(w) | Tok::Quoted(w) | Tok::Op(w) => w.clone(),
        Tok::LParen => "(".into(),
        Tok::RParen => ")".into(),
        Tok::Comma => ",".into(),
    }
}

fn field_values(st: &JiraState, i: &JiraIssue, field: &str) -> Vec<String> {
    match field {
        "status" => vec![status_of(st, i).name],
        "statusCategory" => {
            let key = status_of(st, i).category;
            let (id, name) = match key.as_str() {
                "new" => ("2", "To Do"),
                "indeterminate" => ("4", "In Progress"),
                "done" => ("3", "Done"),
                _ => ("1", "No Category"),
            };
            vec![key, id.to_string(), name.to_string()]
        }
        "resolution" => i.resolution.iter().map(|r| r.name.clone()).collect(),
        "project" => vec![i.project_key.clone()],
        "labels" => i.labels.clone(),
        "key" => vec![i.key.clone()],
        "id" => vec![i.id.to_string()],
        "issuetype" => vec![i.issue_type.name.clone()],
        "priority" => vec![i.priority.name.clone()],
        "summary" => vec![i.summary.clone()],
        _ => vec![],
    }
}

fn value_matches(field: &str, have: &str, want: &str) -> bool {
    match field {
        // Labels are case-sensitive; other values are not.
        "labels" => have == want,
        _ => have.eq_ignore_ascii_case(want),
    }
}

/// `resolution = Unresolved` is an empty resolution.
fn unresolved(field: &str, i: &JiraIssue, want: &str) -> bool {
    field == "resolution" && i.resolution.is_none() && want.eq_ignore_ascii_case("unresolved")
}

fn cond_matches(st: &JiraState, i: &JiraIssue, c: &Cond) -> bool {
    let field_values = |i: &JiraIssue, field: &str| field_values(st, i, field);
    match c {
        Cond::Eq { field, value, neg } => {
            let hit = field_values(i, field)
                .iter()
                .any(|v| value_matches(field, v, value))
                || unresolved(field, i, value);
            hit != *neg
        }
        Cond::In { field, values, neg } => {
            let have = field_values(i, field);
            let hit = values.iter().any(|w| {
                have.iter().any(|v| value_matches(field, v, w)) || unresolved(field, i, w)
            });
            hit != *neg
        }
        Cond::Date { field, op, at } => {
            let have = minute(if field == "created" {
                i.created
            } else {
                i.updated
            });
            let want = minute(*at);
            match op.as_str() {
                "=" => have == want,
                "!=" => have != want,
                "<" => have < want,
                "<=" => have <= want,
                ">" => have > want,
                _ => have >= want,
            }
        }
        Cond::Contains { field, text, neg } => {
            let hay = if field == "text" {
                format!("{} {}", i.summary, i.description)
            } else {
                field_values(i, field).join(" ")
            };
            let hit = hay
                .to_lowercase()
                .contains(&text.to_lowercase().trim_matches('*').to_string());
            hit != *neg
        }
        Cond::Empty { field, neg } => {
            let empty = field_values(i, field).iter().all(String::is_empty);
            empty != *neg
        }
    }
}

pub(super) fn jql_matches(st: &JiraState, i: &JiraIssue, q: &Jql) -> bool {
    q.groups
        .iter()
        .any(|g| g.iter().all(|c| cond_matches(st, i, c)))
}

pub(super) fn priority_rank(name: &str) -> usize {
    PRIORITIES.iter().position(|(_, n)| *n == name).unwrap_or(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jql_with_project_labels_and_order_parses() {
        let j = parse_jql(r#"project = SEC AND labels = "incydr-alert-1" ORDER BY created DESC"#)
            .unwrap();
        assert_eq!(j.groups.len(), 1);
        assert_eq!(j.groups[0].len(), 2);
        assert_eq!(j.order, vec![("created".to_string(), true)]);
        assert!(parse_jql("ORDER BY created").unwrap().groups.is_empty());
        assert!(parse_jql("").unwrap().groups.is_empty());
        assert!(parse_jql("labelz = x").is_err());
        assert!(parse_jql("project = SEC AND").is_err());
        let j = parse_jql("labels in (a, b) OR key = SEC-1").unwrap();
        assert_eq!(j.groups.len(), 2);
        assert!(parse_jql("updated >= -15m AND statusCategory = Done").is_ok());
        assert!(parse_jql("updated >= yesterday").is_err());
    }

    #[test]
    fn jql_dates_are_relative_or_absolute_utc_to_the_minute() {
        let now: Timestamp = "2026-03-02T10:11:12Z".parse().unwrap();
        let at = |t: &str| parse_date(t, now).unwrap().to_string();
        assert_eq!(at("-15m"), "2026-03-02T09:56:12Z");
        assert_eq!(at("+1d"), "2026-03-03T10:11:12Z");
        assert_eq!(at("-1w 2h"), "2026-02-23T08:11:12Z");
        assert_eq!(at("2026/03/02 10:00"), "2026-03-02T10:00:00Z");
        assert_eq!(at("2026-03-01"), "2026-03-01T00:00:00Z");
        assert!(parse_date("-15x", now).is_err());
        assert!(parse_date("03/02/2026", now).is_err());
    }
}
