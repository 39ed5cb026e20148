//! riskflow: automated insider-risk integrations for Code42 Incydr.
//!
//! This library holds everything the Lambda functions, the `riskflow` CLI and the local
//! all-in-one server have in common. The binaries only wire it together.
//!
//! - [`domain`]: plain types (connections, flows, work items, HR facts), no I/O.
//! - [`store`]: the state store ([`store::StateStore`]) over DynamoDB, SQLite or memory.
//! - [`secrets`]: the secret store ([`secrets::SecretStore`]) over Secrets Manager, a local
//!   file or memory, with a version-keyed cache.
//! - [`http`]: the one outbound HTTP layer (timeouts, retries, rate-limit headers, the
//!   outbound-address guard).
//! - [`ports`]: the roles the flows need from outside systems (small traits) and
//!   [`ports::ConnectorError`]; [`clock`]: the clock every run reads.
//! - [`connectors`]: one client per outside system.
//! - [`config`], [`metrics`]: typed environment configuration and CloudWatch EMF metrics.
//! - `fuzzing` (feature `fuzzing`): the entry points of the fuzz targets in `fuzz/`.

pub mod api;
pub mod app;
pub mod aws_calls;
pub mod clock;
pub mod config;
pub mod connectors;
pub mod domain;
pub mod flows;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod http;
pub mod lambda;
pub mod metrics;
pub mod ports;
pub mod secrets;
pub mod store;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
