//! Workday's cancellation rule: a RaaS report sends no cancellation, so each pull is compared
//! with the snapshot the previous pull kept, and a person who vanished before their date is a
//! cancellation. A report can lie by omission (a row that cannot be read, an answer without
//! `Report_Entry`, a pull that suddenly lists far fewer people), so a vanishing is read as a
//! cancellation only when the pull can be trusted, or once the next pull confirms it.

use super::model::{ReportRead, WorkdayRow};
use crate::domain::{Date, Departure, HrEventKind, HrSource};
use std::collections::{BTreeMap, BTreeSet};

/// The default of the `max_shrink_percent` setting.
pub const DEFAULT_MAX_SHRINK_PERCENT: u8 = 20;

/// A row as the snapshot keeps it. `missing_since` is set on a person's rows kept after a pull
/// that did not list them and inferred no cancellation (the pull time): the next pull that
/// does not list them either confirms the cancellation. Rows stored by older versions (plain
/// [`WorkdayRow`]s) read with no mark.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeptRow {
    #[serde(flatten)]
    pub row: WorkdayRow,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_since: Option<i64>,
}

impl From<WorkdayRow> for KeptRow {
    fn from(row: WorkdayRow) -> Self {
        KeptRow {
            row,
            missing_since: None,
        }
    }
}

/// What one pull amounts to against the previous snapshot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Compared {
    /// Departures in report order, then cancellations by employee id.
    pub facts: Vec<Departure>,
    /// The snapshot the next pull is compared with, sorted by employee id.
    pub snapshot: Vec<KeptRow>,
    /// For the run record: each row that could not be read, and why cancellations were held.
    pub problems: Vec<String>,
    /// People not listed by this pull whose cancellation waits for the next pull.
    pub cancellations_held: u64,
}

/// Compare a pull (`read`) with the previous snapshot (`None` before the first pull).
///
/// - A row of `read` that is not in the previous snapshot exactly (a new person, a changed
///   date, email, reason or event) is a **departure**, also on a pull whose cancellations are
///   held; it is in the new snapshot, so the next pull does not record it again.
/// - A person with rows in the previous snapshot and none in this pull, whose latest
///   termination date has not passed (`> today`), is a **cancellation** (one whose date has
///   passed aged out of the report's window). `source_event_id` is
///   `employee_id:termination_date:cancelled`.
/// - A row that cannot be read is reported with its number and problem; when its employee id
///   could be read, that person's previous rows are kept and they are not cancelled.
/// - No cancellation is inferred from a pull that may have left people out, and the people it
///   did not list are kept, marked, for the next pull to confirm (those still missing then are
///   cancelled, once): a pull with a row whose employee id cannot be read (anyone may be
///   that row: every vanishing waits, even one the previous pull held), an answer without
///   `Report_Entry` (read as empty; the next pull must agree), or one that lost more than
///   `max_shrink_percent` % of the people the previous pull listed (counting people it would
///   cancel).
///
/// **The event time** of a Workday fact is `now_ms`, the time of the pull that saw the change:
/// a RaaS report carries no time of its own for a row, and a change is known to have happened
/// only by the pull that shows it. It is riskflow's own clock, so never in the future.
pub fn compare(
    previous: Option<&[KeptRow]>,
    read: &ReportRead,
    max_shrink_percent: u8,
    today: Date,
    now_ms: i64,
) -> Compared {
    let mut out = Compared::default();
    let unreadable_ids: Vec<usize> = read
        .problems
        .iter()
        .filter(|p| p.employee_id.is_none())
        .map(|p| p.row)
        .collect();
    let bad_ids: BTreeSet<&str> = read
        .problems
        .iter()
        .filter_map(|p| p.employee_id.as_deref())
        .collect();
    for p in &read.problems {
        out.problems.push(match &p.employee_id {
            Some(id) => format!(
                "{}; the previous entry of employee {id} is kept (not read as a cancellation)",
                p.problem
            ),
            None => format!("{}; its employee id cannot be read", p.problem),
        });
    }
    let previous = previous.unwrap_or_default();
    let before: BTreeSet<&WorkdayRow> = previous.iter().map(|k| &k.row).collect();
    out.facts = read
        .rows
        .iter()
        .filter(|r| !before.contains(r))
        .map(|r| r.to_departure(now_ms))
        .collect();
    out.snapshot = read.rows.iter().cloned().map(KeptRow::from).collect();

    let present: BTreeSet<&str> = read.rows.iter().map(|r| r.employee_id.as_str()).collect();
    let mut by_person: BTreeMap<&str, Vec<&KeptRow>> = BTreeMap::new();
    for k in previous {
        by_person
            .entry(k.row.employee_id.as_str())
            .or_default()
            .push(k);
    }
    // Whom the previous pull listed (the base of the shrink guard).
    let listed_before = by_person
        .values()
        .filter(|rows| rows.iter().all(|k| k.missing_since.is_none()))
        .count();
    let current: BTreeSet<&WorkdayRow> = read.rows.iter().collect();
    let mut newly_missing: Vec<&[&KeptRow]> = Vec::new();
    let mut still_missing: Vec<&[&KeptRow]> = Vec::new();
    for (id, rows) in &by_person {
        if bad_ids.contains(id) {
            // Listed, but unreadable: keep what the previous pull knew, as listed.
            out.snapshot.extend(
                rows.iter()
                    .filter(|k| !current.contains(&k.row))
                    .map(|k| KeptRow::from(k.row.clone())),
            );
            continue;
        }
        if present.contains(id) || latest(rows).row.termination_date <= today {
            continue;
        }
        if rows.iter().any(|k| k.missing_since.is_some()) {
            still_missing.push(rows);
        } else {
            newly_missing.push(rows);
        }
    }

    let mut reasons = Vec::new();
    if let Some(keys) = &read.without_report_entry {
        reasons.push(if keys.is_empty() {
            "the Workday answer was {} without 'Report_Entry' (as Workday answers for a report without rows): read as empty, and the next pull must agree".to_string()
        } else {
            format!(
                "the Workday answer had no 'Report_Entry' (keys: {}): read as empty, and the next pull must agree",
                keys.join(", ")
            )
        });
    }
    let lost = newly_missing.len();
    if lost * 100 > usize::from(max_shrink_percent) * listed_before {
        reasons.push(format!(
            "this pull lost {lost} of the {listed_before} people the previous pull listed ({}%), more than the setting max_shrink_percent ({max_shrink_percent}%)",
            lost * 100 / listed_before.max(1)
        ));
    }
    let mut held: Vec<&[&KeptRow]> = Vec::new();
    let mut cancelled: Vec<&[&KeptRow]> = Vec::new();
    if !unreadable_ids.is_empty() {
        reasons.push(format!(
            "row{} {} of the Workday report ha{} no readable employee id, so nobody can be inferred cancelled from this pull",
            if unreadable_ids.len() == 1 { "" } else { "s" },
            unreadable_ids
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            if unreadable_ids.len() == 1 { "s" } else { "ve" },
        ));
        held.extend(newly_missing);
        held.extend(still_missing);
    } else {
        // People the previous pull held and this one does not list either: confirmed.
        cancelled.extend(still_missing);
        if reasons.is_empty() {
            cancelled.extend(newly_missing);
        } else {
            held.extend(newly_missing);
        }
    }
    if !held.is_empty() {
        out.problems.push(format!(
            "{} {} not listed by this Workday pull {} not cancelled yet: {}; people still not listed by the next pull are cancelled then",
            held.len(),
            if held.len() == 1 { "person" } else { "people" },
            if held.len() == 1 { "is" } else { "are" },
            reasons.join("; ")
        ));
    }
    out.cancellations_held = held.len() as u64;
    for rows in held {
        out.snapshot.extend(rows.iter().map(|k| KeptRow {
            row: k.row.clone(),
            missing_since: Some(k.missing_since.unwrap_or(now_ms)),
        }));
    }
    cancelled.sort_by_key(|rows| rows[0].row.employee_id.as_str());
    for rows in cancelled {
        let r = &latest(rows).row;
        out.facts.push(Departure {
            source: HrSource::Workday,
            kind: HrEventKind::Cancellation,
            source_event_id: format!("{}:{}:cancelled", r.employee_id, r.termination_date),
            event_time: now_ms,
            email: r.email.clone(),
            employee_id: Some(r.employee_id.clone()),
            departure_date: None,
            reason: None,
        });
    }
    out.snapshot
        .sort_by(|a, b| (&a.row.employee_id, &a.row).cmp(&(&b.row.employee_id, &b.row)));
    out
}

/// A person's row with the latest termination date.
fn latest<'a>(rows: &[&'a KeptRow]) -> &'a KeptRow {
    rows.iter()
        .copied()
        .max_by_key(|k| k.row.termination_date)
        .unwrap_or(rows[0])
}

/// The facts between two plain pulls (every row read, no guard holding cancellations): the
/// rule of [`compare`] as a function of two row lists.
pub fn diff_snapshots(
    previous: &[WorkdayRow],
    current: &[WorkdayRow],
    today: Date,
    now_ms: i64,
) -> Vec<Departure> {
    let previous: Vec<KeptRow> = previous.iter().cloned().map(KeptRow::from).collect();
    let read = ReportRead {
        rows: current.to_vec(),
        ..ReportRead::default()
    };
    compare(Some(&previous), &read, 100, today, now_ms).facts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::workday::{FieldMapping, read_report};
    use serde_json::{Value, json};

    const NOW: i64 = 1_780_000_000_000;
    const DAY: i64 = 86_400_000;

    fn today() -> Date {
        crate::clock::date_of_ms(NOW)
    }

    fn entry(id: &str, date: &str) -> Value {
        json!({"Employee_ID": id, "Email_-_Work": format!("p{id}@example.com"), "Termination_Date": date})
    }

    fn people(ids: &[&str]) -> Vec<Value> {
        ids.iter().map(|id| entry(id, "2030-01-31")).collect()
    }

    fn read(entries: Vec<Value>) -> ReportRead {
        let body = json!({ "Report_Entry": entries }).to_string();
        read_report(body.as_bytes(), &FieldMapping::default()).unwrap()
    }

    fn empty_object() -> ReportRead {
        read_report(b"{}", &FieldMapping::default()).unwrap()
    }

    /// The facts of a comparison as `(kind, employee id)`.
    fn facts(c: &Compared) -> Vec<(HrEventKind, String)> {
        c.facts
            .iter()
            .map(|f| (f.kind, f.employee_id.clone().unwrap_or_default()))
            .collect()
    }

    fn cancelled(ids: &[&str]) -> Vec<(HrEventKind, String)> {
        ids.iter()
            .map(|id| (HrEventKind::Cancellation, id.to_string()))
            .collect()
    }

    /// Successive pulls, each compared with the snapshot the one before kept.
    struct Pulls {
        snapshot: Option<Vec<KeptRow>>,
        at: i64,
        max_shrink_percent: u8,
    }

    impl Pulls {
        fn after(entries: Vec<Value>) -> Pulls {
            let mut p = Pulls {
                snapshot: None,
                at: NOW,
                max_shrink_percent: DEFAULT_MAX_SHRINK_PERCENT,
            };
            p.pull(read(entries));
            p
        }

        fn pull(&mut self, read: ReportRead) -> Compared {
            let c = compare(
                self.snapshot.as_deref(),
                &read,
                self.max_shrink_percent,
                today(),
                self.at,
            );
            self.snapshot = Some(c.snapshot.clone());
            self.at += DAY;
            c
        }
    }

    #[test]
    fn a_malformed_row_is_reported_by_number_and_keeps_that_employees_previous_entry() {
        let mut p = Pulls::after(people(&["1", "2", "3"]));
        let mut rows = people(&["1", "2", "3"]);
        rows[1]["Email_-_Work"] = json!("not-an-address");
        let c = p.pull(read(rows));
        assert!(c.facts.is_empty(), "{c:?}");
        assert_eq!(c.problems.len(), 1, "{c:?}");
        assert!(
            c.problems[0].starts_with("Workday report row 2: column 'Email_-_Work'")
                && c.problems[0].contains("employee 2 is kept"),
            "{c:?}"
        );
        let kept: Vec<&str> = c
            .snapshot
            .iter()
            .map(|k| k.row.employee_id.as_str())
            .collect();
        assert_eq!(kept, ["1", "2", "3"]);
        // Fixed and unchanged: nothing new. Gone later: cancelled then (1 of 3 is a drop the
        // guard would hold; it is off here).
        assert!(p.pull(read(people(&["1", "2", "3"]))).facts.is_empty());
        p.max_shrink_percent = 100;
        assert_eq!(facts(&p.pull(read(people(&["1", "3"])))), cancelled(&["2"]));
    }

    #[test]
    fn a_row_without_a_readable_employee_id_holds_every_cancellation_until_a_readable_pull() {
        let mut p = Pulls::after(people(&["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]));
        let mut rows = people(&["1", "2", "3", "4", "5", "6", "7", "8", "9", "new"]);
        rows.push(json!({"Email_-_Work": "who@example.com", "Termination_Date": "2030-01-31"}));
        let c = p.pull(read(rows));
        assert_eq!(facts(&c), [(HrEventKind::Departure, "new".to_string())]);
        assert_eq!(c.cancellations_held, 1);
        assert!(
            c.problems.iter().any(|e| e
                .contains("row 11 of the Workday report has no readable employee id")
                && e.contains("1 person not listed")),
            "{c:?}"
        );
        // A second unreadable pull still cancels nobody, even whom the first held.
        let mut rows = people(&["1", "2", "3", "4", "5", "6", "7", "8", "new"]);
        rows.push(json!({"Employee_ID": ["x"], "Email_-_Work": "a@b.co"}));
        let c = p.pull(read(rows));
        assert!(c.facts.is_empty(), "{c:?}");
        assert_eq!(c.cancellations_held, 2);
        // Readable again: the two missing from every pull since are cancelled, once.
        let rows = people(&["1", "2", "3", "4", "5", "6", "7", "8", "new"]);
        assert_eq!(facts(&p.pull(read(rows.clone()))), cancelled(&["10", "9"]));
        assert!(p.pull(read(rows)).facts.is_empty());
    }

    #[test]
    fn an_answer_without_report_entry_is_empty_and_cancels_only_when_the_next_pull_agrees() {
        let mut p = Pulls::after(people(&["1", "2"]));
        let c = p.pull(empty_object());
        assert!(c.facts.is_empty(), "{c:?}");
        assert_eq!(c.cancellations_held, 2);
        assert!(
            c.problems[0].contains("2 people not listed")
                && c.problems[0].contains("{} without 'Report_Entry'"),
            "{c:?}"
        );
        assert!(
            c.snapshot
                .iter()
                .all(|k| k.missing_since == Some(NOW + DAY))
        );
        // The report is back whole: nobody is cancelled, nothing is recorded again.
        let c = p.pull(read(people(&["1", "2"])));
        assert!(c.facts.is_empty() && c.problems.is_empty(), "{c:?}");
        // `{}` twice in a row: the second agrees.
        p.pull(empty_object());
        let c = p.pull(empty_object());
        assert_eq!(facts(&c), cancelled(&["1", "2"]));
        assert!(c.snapshot.is_empty() && c.problems.is_empty(), "{c:?}");
        assert!(p.pull(empty_object()).facts.is_empty());
    }

    #[test]
    fn a_pull_losing_more_than_max_shrink_percent_holds_cancellations_until_the_next_confirms() {
        let all = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];
        let mut p = Pulls::after(people(&all));
        // 3 of 10 lost (30 % > 20 %), one new departure.
        let mut rows = people(&["1", "2", "3", "4", "5", "6", "7"]);
        rows.push(entry("11", "2030-02-01"));
        let c = p.pull(read(rows.clone()));
        assert_eq!(facts(&c), [(HrEventKind::Departure, "11".to_string())]);
        assert_eq!(c.cancellations_held, 3);
        assert!(
            c.problems[0].contains("lost 3 of the 10 people")
                && c.problems[0].contains("(30%)")
                && c.problems[0].contains("max_shrink_percent (20%)"),
            "{c:?}"
        );
        // The next pull lists one of them again: the two still missing are cancelled, and
        // the departure of the held pull is not recorded again.
        rows.push(entry("8", "2030-01-31"));
        let c = p.pull(read(rows.clone()));
        assert_eq!(facts(&c), cancelled(&["10", "9"]));
        assert!(c.problems.is_empty(), "{c:?}");
        assert!(p.pull(read(rows)).facts.is_empty());

        // 2 of 10 (20 %) is not more than 20 %: cancelled at once.
        let mut p = Pulls::after(people(&all));
        let c = p.pull(read(people(&["1", "2", "3", "4", "5", "6", "7", "8"])));
        assert_eq!(facts(&c), cancelled(&["10", "9"]));
        // With the setting at 50, 30 % is cancelled at once.
        let mut p = Pulls::after(people(&all));
        p.max_shrink_percent = 50;
        let c = p.pull(read(people(&["1", "2", "3", "4", "5", "6", "7"])));
        assert_eq!(facts(&c), cancelled(&["10", "8", "9"]));
    }

    #[test]
    fn people_whose_date_passed_age_out_without_counting_as_lost() {
        let mut rows = people(&["1", "2", "3"]);
        rows.push(entry("old1", "2020-01-01"));
        rows.push(entry("old2", "2020-01-01"));
        let mut p = Pulls::after(rows);
        let c = p.pull(read(people(&["1", "2", "3"])));
        assert!(c.facts.is_empty() && c.problems.is_empty(), "{c:?}");
        assert_eq!(c.snapshot.len(), 3);
    }

    #[test]
    fn rows_stored_by_older_versions_read_as_listed_rows() {
        let old = json!({"employee_id": "7", "email": "a@b.co", "termination_date": "2030-01-31",
            "last_day": null, "event_id": null, "reason": null});
        let kept: KeptRow = serde_json::from_value(old).unwrap();
        assert_eq!(kept.missing_since, None);
        let back = serde_json::to_value(&kept).unwrap();
        assert!(back.get("missing_since").is_none(), "{back}");
    }
}
