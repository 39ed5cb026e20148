//! bamboohr connector (being written)
