//! dynamodb item store (being written)
