//! People: the latest HR fact about each, and the departure-date index clean-up reads.

use super::*;

impl Store {
    // ----- people and the departure index -----
    pub async fn person(&self, email: &str, now: i64) -> Result<Option<PersonRecord>> {
        match self.get_live(&person_pk(email), "departure", now).await? {
            Some(raw) => {
                let mut rec: PersonRecord = Self::decode(&raw)?;
                rec.version = raw.version;
                Ok(Some(rec))
            }
            None => Ok(None),
        }
    }

    /// The people of these emails that have a record, by email (one batched read per 100).
    pub async fn people(
        &self,
        emails: &[String],
        now: i64,
    ) -> Result<HashMap<String, PersonRecord>> {
        let keys: Vec<(String, String)> = emails
            .iter()
            .map(|e| (person_pk(e), "departure".to_string()))
            .collect();
        let mut out = HashMap::with_capacity(keys.len());
        for raw in self.backend.batch_get(&keys).await? {
            if raw.expires_at.is_none_or(|e| e >= now) {
                let mut rec: PersonRecord = Self::decode(&raw)?;
                rec.version = raw.version;
                out.insert(rec.email.to_ascii_lowercase(), rec);
            }
        }
        Ok(out)
    }

    /// Save a person read at `rec.version` (0 = new) and move their departure-index entry to
    /// `rec.indexed_date`, in one transaction.
    pub async fn save_person(
        &self,
        rec: &PersonRecord,
        previous_date: Option<Date>,
        now: i64,
    ) -> Result<PersonRecord> {
        let mut saved = rec.clone();
        saved.email = rec.email.to_ascii_lowercase();
        saved.version = rec.version + 1;
        saved.updated_at = now;
        let item = Self::encode(
            person_pk(&saved.email),
            "departure".into(),
            saved.version,
            &saved,
        )?;
        let mut ops = vec![Op::Put(
            item,
            Cond::Version {
                expected: rec.version,
                now,
            },
        )];
        if let Some(old) = previous_date
            && Some(old) != saved.indexed_date
        {
            ops.push(Op::Delete {
                pk: format!("departure#{old}"),
                sk: saved.email.clone(),
                cond: Cond::Always,
            });
        }
        if let Some(date) = &saved.indexed_date {
            let entry = Self::encode(
                format!("departure#{date}"),
                saved.email.clone(),
                1,
                &serde_json::json!({"email": saved.email}),
            )?;
            ops.push(Op::Put(entry, Cond::Always));
        }
        match self.backend.transact(ops).await {
            Ok(()) => Ok(saved),
            Err(BackendError::ConditionFailed { .. }) => Err(StoreError::Conflict {
                what: format!("person {}", saved.email),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Emails of people whose indexed departure date is `date`.
    pub async fn departures_on(&self, date: Date, now: i64) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let q = Query {
                pk: format!("departure#{date}"),
                sk_prefix: None,
                after,
                descending: false,
                limit: 500,
            };
            let (items, next) = self.query_live(&q, now).await?;
            out.extend(items.into_iter().map(|it| it.sk));
            match next {
                Some(n) => after = Some(n),
                None => return Ok(out),
            }
        }
    }
}
