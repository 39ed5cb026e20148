//! jira connector (being written)
