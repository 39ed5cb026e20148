//! file secret store (being written)
