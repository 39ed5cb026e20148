//! ADP state: issued tokens, the event-notification queue, acknowledgements and workers.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::util::{self, IdGen};

/// An ADP worker record to seed.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AdpWorker {
    /// `associateOID`, e.g. `G3KXNKXW8VT5Q5M0`.
    pub associate_oid: String,
    /// `workerID.idValue`.
    pub worker_id: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Business email (`businessCommunication.emails`, `nameCode.codeValue: Business`).
    pub business_email: Option<String>,
    /// Personal email (`person.communication.emails`).
    pub personal_email: Option<String>,
    /// `workerDates.originalHireDate`.
    pub hire_date: Option<String>,
    /// `workerDates.terminationDate`.
    pub termination_date: Option<String>,
    /// `workerStatus.statusCode.codeValue`: `A` active, `T` terminated.
    pub status_code: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Message {
    pub id: String,
    pub body: String,
}

/// ADP state.
#[derive(Default)]
pub(crate) struct AdpState {
    tokens: Vec<(String, i64)>,
    pub queue: VecDeque<Message>,
    pub acks: Vec<String>,
    pub workers: BTreeMap<String, AdpWorker>,
}

impl AdpState {
    /// Queue a raw message; returns its `adp-msg-msgid`.
    pub(crate) fn push_message(&mut self, ids: &mut IdGen, raw: String) -> String {
        let id = ids.uuid("adp-msg");
        self.queue.push_back(Message {
            id: id.clone(),
            body: raw,
        });
        id
    }

    /// Remember a token issued at the token endpoint, valid until `expires` (epoch seconds).
    pub(crate) fn add_token(&mut self, token: String, expires: i64) {
        self.tokens.push((token, expires));
    }

    /// Whether `token` was issued and is still valid at `now` (epoch seconds).
    pub(crate) fn token_ok(&self, token: &str, now: i64) -> bool {
        self.tokens
            .iter()
            .any(|(tok, exp)| util::ct_eq(tok, token) && *exp > now)
    }
}
