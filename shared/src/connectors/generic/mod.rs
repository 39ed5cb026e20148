//! generic connector (being written)
