//! Encoded queries (`sysparm_query`): `=`, `!=`, `LIKE`, `NOT LIKE`, `STARTSWITH`, `ENDSWITH`,
//! `IN`, `NOT IN`, `ISEMPTY`, `ISNOTEMPTY`, `<`, `>`, `<=`, `>=`, `^`, `^OR`, `^NQ`,
//! `ORDERBY`/`ORDERBYDESC` and one level of dot-walking on reference fields.

use super::schema::{Record, reference_table, schema};
use super::state::SnowState;

#[derive(Debug, Clone)]
struct Cond {
    field: String,
    op: &'static str,
    value: String,
}

#[derive(Debug, Default)]
pub(super) struct EncodedQuery {
    /// OR of queries (`^NQ`), each an AND of OR-groups (`^OR`).
    queries: Vec<Vec<Vec<Cond>>>,
    pub(super) order: Vec<(String, bool)>,
    pub(super) invalid: bool,
}

const OPS: [&str; 17] = [
    "ISNOTEMPTY",
    "ISEMPTY",
    "NOT LIKE",
    "NOTLIKE",
    "STARTSWITH",
    "ENDSWITH",
    "NOT IN",
    "NOTIN",
    "LIKE",
    "IN",
    "!=",
    ">=",
    "<=",
    "=",
    ">",
    "<",
    "ANYTHING",
];

fn field_known(table: &str, field: &str) -> bool {
    let Some(fields) = schema(table) else {
        return false;
    };
    match field.split_once('.') {
        None => fields.contains(&field),
        Some((head, rest)) => match reference_table(table, head) {
            Some(rt) => schema(rt).is_some_and(|f| f.contains(&rest)),
            None => false,
        },
    }
}

fn parse_cond(term: &str, table: &str) -> Option<Cond> {
    let end = term
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '.'))
        .map(|(i, _)| i)
        .unwrap_or(term.len());
    let (field, rest) = term.split_at(end);
    if field.is_empty() || !field_known(table, field) {
        return None;
    }
    let op = OPS.iter().find(|op| rest.starts_with(**op))?;
    Some(Cond {
        field: field.to_string(),
        op,
        value: rest[op.len()..].to_string(),
    })
}

pub(super) fn parse_query(raw: &str, table: &str) -> EncodedQuery {
    let mut q = EncodedQuery::default();
    let mut current: Vec<Vec<Cond>> = Vec::new();
    for piece in raw.split('^') {
        let piece = piece.trim();
        if piece.is_empty() || piece == "EQ" {
            continue;
        }
        if let Some(rest) = piece.strip_prefix("NQ") {
            q.queries.push(std::mem::take(&mut current));
            if !rest.is_empty() {
                match parse_cond(rest, table) {
                    Some(c) => current.push(vec![c]),
                    None => q.invalid = true,
                }
            }
            continue;
        }
        if let Some(f) = piece.strip_prefix("ORDERBYDESC") {
            if field_known(table, f) {
                q.order.push((f.to_string(), true));
            }
            continue;
        }
        if let Some(f) = piece.strip_prefix("ORDERBY") {
            if field_known(table, f) {
                q.order.push((f.to_string(), false));
            }
            continue;
        }
        if let Some(rest) = piece.strip_prefix("OR") {
            match (parse_cond(rest, table), current.last_mut()) {
                (Some(c), Some(group)) => group.push(c),
                (Some(c), None) => current.push(vec![c]),
                (None, _) => q.invalid = true,
            }
            continue;
        }
        match parse_cond(piece, table) {
            Some(c) => current.push(vec![c]),
            None => q.invalid = true,
        }
    }
    q.queries.push(current);
    q
}

pub(super) fn field_value(st: &SnowState, table: &str, rec: &Record, field: &str) -> String {
    match field.split_once('.') {
        None => rec.get(field).cloned().unwrap_or_default(),
        Some((head, rest)) => {
            let Some(rt) = reference_table(table, head) else {
                return String::new();
            };
            let id = rec.get(head).cloned().unwrap_or_default();
            st.find(rt, &id)
                .and_then(|r| r.get(rest).cloned())
                .unwrap_or_default()
        }
    }
}

pub(super) fn cmp_values(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => a.cmp(b),
    }
}

fn cond_matches(st: &SnowState, table: &str, rec: &Record, c: &Cond) -> bool {
    let v = field_value(st, table, rec, &c.field);
    let lv = v.to_lowercase();
    let lw = c.value.to_lowercase();
    match c.op {
        "=" => v == c.value,
        "!=" => v != c.value,
        "LIKE" => lv.contains(&lw),
        "NOT LIKE" | "NOTLIKE" => !lv.contains(&lw),
        "STARTSWITH" => lv.starts_with(&lw),
        "ENDSWITH" => lv.ends_with(&lw),
        "IN" => c.value.split(',').any(|x| x == v),
        "NOT IN" | "NOTIN" => !c.value.split(',').any(|x| x == v),
        "ISEMPTY" => v.is_empty(),
        "ISNOTEMPTY" => !v.is_empty(),
        ">" => cmp_values(&v, &c.value).is_gt(),
        "<" => cmp_values(&v, &c.value).is_lt(),
        ">=" => cmp_values(&v, &c.value).is_ge(),
        "<=" => cmp_values(&v, &c.value).is_le(),
        _ => true,
    }
}

pub(super) fn query_matches(st: &SnowState, table: &str, rec: &Record, q: &EncodedQuery) -> bool {
    q.queries.iter().any(|and_groups| {
        and_groups
            .iter()
            .all(|or_group| or_group.iter().any(|c| cond_matches(st, table, rec, c)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_in_encoded_queries_are_dropped() {
        let q = parse_query("correlation_idd=x", "incident");
        assert!(q.invalid);
        assert!(q.queries.iter().all(Vec::is_empty));
    }

    #[test]
    fn encoded_queries_with_or_and_order_parse() {
        let q = parse_query(
            "correlation_id=incydr-1^ORcorrelation_id=incydr-2^active=true^ORDERBYDESCnumber",
            "incident",
        );
        assert!(!q.invalid);
        assert_eq!(q.queries.len(), 1);
        assert_eq!(q.queries[0].len(), 2);
        assert_eq!(q.queries[0][0].len(), 2);
        assert_eq!(q.order, vec![("number".to_string(), true)]);
        let q = parse_query(
            "short_descriptionLIKEexfil^caller_id.email=a@b.c",
            "incident",
        );
        assert!(!q.invalid);
        assert_eq!(q.queries[0][0][0].op, "LIKE");
    }
}
