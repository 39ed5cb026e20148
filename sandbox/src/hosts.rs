//! [`SandboxHandle`] as the host of every fake and of the fault layer: each vendor module
//! and [`crate::faults`] declare what they need from the sandbox as a trait, and this module
//! hands them their part of the one locked state. The dependency goes one way: the
//! composition knows the vendors, the vendors know nothing of the composition.

use crate::adp::{AdpConfig, AdpCtx, AdpHost};
use crate::bamboohr::{BambooCtx, BambooHost};
use crate::faults::{FaultCtx, FaultHost};
use crate::incydr::{IncydrConfig, IncydrCtx, IncydrHost};
use crate::jira::{JiraConfig, JiraCtx, JiraHost};
use crate::okta::{OktaCtx, OktaHost};
use crate::servicenow::{SnowConfig, SnowCtx, SnowHost};
use crate::state::SandboxHandle;
use crate::workday::{WorkdayCtx, WorkdayHost};

impl IncydrHost for SandboxHandle {
    fn with_incydr<R>(&self, f: impl FnOnce(&mut IncydrCtx<'_>) -> R) -> R {
        self.with(|s| {
            f(&mut IncydrCtx {
                config: IncydrConfig {
                    incydr_clients: &s.config.incydr_clients,
                    incydr_token_ttl_secs: s.config.incydr_token_ttl_secs,
                    incydr_reorder_sessions: s.config.incydr_reorder_sessions,
                    incydr_strict_readd: s.config.incydr_strict_readd,
                },
                incydr: &mut s.incydr,
                ids: &mut s.ids,
            })
        })
    }
}

impl JiraHost for SandboxHandle {
    fn with_jira<R>(&self, f: impl FnOnce(&mut JiraCtx<'_>) -> R) -> R {
        self.with(|s| {
            f(&mut JiraCtx {
                config: JiraConfig {
                    jira_search_lag_ms: s.config.jira_search_lag_ms,
                },
                jira: &mut s.jira,
            })
        })
    }
}

impl SnowHost for SandboxHandle {
    fn with_snow<R>(&self, f: impl FnOnce(&mut SnowCtx<'_>) -> R) -> R {
        self.with(|s| {
            f(&mut SnowCtx {
                config: SnowConfig {
                    servicenow_invalid_query_returns_no_rows: s
                        .config
                        .servicenow_invalid_query_returns_no_rows,
                },
                snow: &mut s.snow,
                ids: &mut s.ids,
            })
        })
    }
}

impl OktaHost for SandboxHandle {
    fn with_okta<R>(&self, f: impl FnOnce(&mut OktaCtx<'_>) -> R) -> R {
        self.with(|s| f(&mut OktaCtx { okta: &mut s.okta }))
    }
}

impl WorkdayHost for SandboxHandle {
    fn with_workday<R>(&self, f: impl FnOnce(&mut WorkdayCtx<'_>) -> R) -> R {
        self.with(|s| {
            f(&mut WorkdayCtx {
                workday: &mut s.workday,
            })
        })
    }
}

impl AdpHost for SandboxHandle {
    fn with_adp<R>(&self, f: impl FnOnce(&mut AdpCtx<'_>) -> R) -> R {
        self.with(|s| {
            f(&mut AdpCtx {
                config: AdpConfig {
                    adp_plain_requires_client_cert: s.config.adp_plain_requires_client_cert,
                },
                adp: &mut s.adp,
                ids: &mut s.ids,
            })
        })
    }
}

impl BambooHost for SandboxHandle {
    fn with_bamboo<R>(&self, f: impl FnOnce(&mut BambooCtx<'_>) -> R) -> R {
        self.with(|s| {
            f(&mut BambooCtx {
                bamboo: &mut s.bamboo,
            })
        })
    }

    fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

impl FaultHost for SandboxHandle {
    fn with_faults<R>(&self, f: impl FnOnce(&mut FaultCtx<'_>) -> R) -> R {
        self.with(|s| {
            f(&mut FaultCtx {
                faults: &mut s.faults,
                limits: &mut s.limits,
                counts: &mut s.counts,
                holds: &mut s.holds,
            })
        })
    }
}
