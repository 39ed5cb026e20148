//! Watchlists v2.

use super::*;

string_enum! {
    /// `listType` of a v2 watchlist. Servers may add values.
    WatchlistType {
        Unspecified => "WATCHLIST_TYPE_UNSPECIFIED",
        ContractEmployee => "CONTRACT_EMPLOYEE",
        DepartingEmployee => "DEPARTING_EMPLOYEE",
        ElevatedAccessPrivileges => "ELEVATED_ACCESS_PRIVILEGES",
        FlightRisk => "FLIGHT_RISK",
        HighImpactEmployee => "HIGH_IMPACT_EMPLOYEE",
        NewEmployee => "NEW_EMPLOYEE",
        PerformanceConcerns => "PERFORMANCE_CONCERNS",
        PoorSecurityPractices => "POOR_SECURITY_PRACTICES",
        SuspiciousSystemActivity => "SUSPICIOUS_SYSTEM_ACTIVITY",
        Custom => "CUSTOM",
    }
}

/// One page of `GET /v2/watchlists`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchlistPage {
    #[serde(default, deserialize_with = "null_default")]
    pub watchlists: Vec<Watchlist>,
    #[serde(default)]
    pub total_count: Option<u64>,
}

/// A v2 watchlist.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Watchlist {
    #[serde(default)]
    pub watchlist_id: Option<String>,
    #[serde(default)]
    pub list_type: Option<WatchlistType>,
    /// Meaningful for `CUSTOM` lists only; built-in lists may have `null`.
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub stats: Option<WatchlistStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchlistStats {
    #[serde(default)]
    pub included_actors_count: Option<i64>,
    #[serde(default)]
    pub excluded_actors_count: Option<i64>,
    #[serde(default)]
    pub included_departments_count: Option<i64>,
    #[serde(default)]
    pub included_directory_groups_count: Option<i64>,
}

/// A watchlist member or included actor. Note the wire key `actorname` (sic).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchlistActor {
    #[serde(default)]
    pub actor_id: Option<String>,
    #[serde(default, rename = "actorname", alias = "actorName")]
    pub actor_name: Option<String>,
    /// ISO-8601.
    #[serde(default)]
    pub added_time: Option<String>,
}
