//! workday connector (being written)
