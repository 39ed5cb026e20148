//! adp connector (being written)
