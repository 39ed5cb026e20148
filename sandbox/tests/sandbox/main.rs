//! End-to-end tests of every fake through real HTTP (reqwest against a started sandbox).

mod common;
mod control;
mod faults;
mod hr;
mod incydr;
mod jira;
mod okta;
mod servicenow;
