//! secrets_manager secret store (being written)
