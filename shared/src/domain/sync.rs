//! How a ticket's closing classification becomes an Incydr session state (state-sync): a
//! per-connection mapping from the ticket system's name for it (Jira resolution, else status;
//! ServiceNow close code) to one of Incydr's closed states. Unmapped closings close the session
//! as plain `CLOSED`, which undoes nothing; `CLOSED_FP` (which releases contained people) is
//! only ever set by a mapping someone wrote.

/// The closed states a mapping may name.
pub const CLOSED_STATES: [&str; 4] = ["CLOSED", "CLOSED_TP", "CLOSED_TP_BENIGN", "CLOSED_FP"];

/// Whether an Incydr state is a closed one (unknown values starting with `CLOSED` count).
pub fn is_closed_state(state: &str) -> bool {
    state.starts_with("CLOSED")
}

/// `name=STATE` pairs, names compared without case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateMapping {
    pairs: Vec<(String, &'static str)>,
}

impl StateMapping {
    /// Read `["Not a bug=CLOSED_FP", "Done=CLOSED_TP"]`; an entry without `=`, with an empty
    /// name or naming a state that is not a closed one is an error naming it.
    pub fn parse(entries: &[String]) -> Result<StateMapping, String> {
        let mut pairs = Vec::with_capacity(entries.len());
        for e in entries {
            let Some((name, state)) = e.rsplit_once('=') else {
                return Err(format!(
                    "session_states entry {e:?} is not name=STATE (e.g. Not a bug=CLOSED_FP)"
                ));
            };
            let (name, state) = (name.trim(), state.trim().to_ascii_uppercase());
            if name.is_empty() {
                return Err(format!("session_states entry {e:?} names no resolution"));
            }
            let Some(state) = CLOSED_STATES.iter().find(|s| **s == state) else {
                return Err(format!(
                    "session_states entry {e:?}: {state} is not one of {}",
                    CLOSED_STATES.join(", ")
                ));
            };
            pairs.push((name.to_lowercase(), *state));
        }
        Ok(StateMapping { pairs })
    }

    /// The state a ticket closed as `resolution` sets: its mapping, else `CLOSED`.
    pub fn closed_state(&self, resolution: Option<&str>) -> &'static str {
        let wanted = resolution.map(|r| r.trim().to_lowercase());
        self.pairs
            .iter()
            .find(|(n, _)| Some(n) == wanted.as_ref())
            .map_or("CLOSED", |(_, s)| *s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unmapped_closing_is_plain_closed_and_a_mapping_must_name_a_closed_state() {
        let m = StateMapping::parse(&["Not a bug=CLOSED_FP".into(), " done = closed_tp ".into()])
            .unwrap();
        assert_eq!(m.closed_state(Some("not A bug")), "CLOSED_FP");
        assert_eq!(m.closed_state(Some("Done")), "CLOSED_TP");
        assert_eq!(m.closed_state(Some("Won't Do")), "CLOSED");
        assert_eq!(m.closed_state(None), "CLOSED");
        assert_eq!(StateMapping::default().closed_state(Some("Done")), "CLOSED");
        for bad in ["Done", "=CLOSED", "Done=OPEN", "Done=CLOSED_XX"] {
            assert!(StateMapping::parse(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(is_closed_state("CLOSED_TP_BENIGN") && !is_closed_state("OPEN_NEW_DATA"));
    }
}
