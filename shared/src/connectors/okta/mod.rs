//! okta connector (being written)
