//! servicenow connector (being written)
