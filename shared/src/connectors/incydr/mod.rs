//! incydr connector (being written)
