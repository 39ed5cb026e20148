//! Plain domain types shared by the flows, the stores and the API. No I/O lives here.

mod alert;
mod connection;
mod containment;
mod hr;
mod records;
mod sync;
mod work;

pub use alert::{
    AlertSession, FileEventSummary, TicketContent, TicketRef, TriggeredAlert, severity_name,
};
pub use connection::{
    ConnectionKind, ConnectionRecord, ConnectionStatus, HistoryEntry, UnknownKind,
};
pub use containment::{
    CLOSED_RETENTION_MS, Closed, Containment, ContainmentStatus, MAX_SESSIONS_KEPT, UndoReason,
    UndoRequest,
};
pub use hr::{Date, Departure, HrEventKind, HrSource, HrWork, PersonRecord, RecordedHrChange};
pub use records::{AuditEntry, Delivery, RunRecord, RunStatus, ScanMark};
pub use sync::{CLOSED_STATES, StateMapping, is_closed_state};
pub use work::{Flow, ItemStatus, Lease, Step, StepRecord, UnknownFlow, WorkItem};
