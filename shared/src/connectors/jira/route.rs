//! Where a Jira connection's REST calls go. A classic API token works at the site
//! (`https://<site>.atlassian.net/rest/api/3/...`). An API token with scopes (a service
//! account's token always has them) works only through Atlassian's API gateway,
//! `https://api.atlassian.com/ex/jira/{cloudId}/rest/api/3/...`, with the same Basic
//! credentials; the site answers it as if no credentials were sent (401 on `myself`). Nothing in
//! the token tells the kinds apart, so with the setting [`TokenKind::Auto`] verification asks
//! the site first and, on its 401, reads the site's cloud id from
//! `GET <site>/_edge/tenant_info` (no credentials) and asks the gateway. The route that worked
//! is stored with the connection ([`ApiRoute::add_to_facts`]) so runs do not ask again. Browse
//! links stay on the site. Sources: docs/vendors/jira.md, "Scoped API tokens".

use crate::connectors::ConnectorError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

/// Atlassian's API gateway (the `gateway_url` setting's default).
pub const GATEWAY: &str = "https://api.atlassian.com";

/// Which kind of API token the connection has (the `token_kind` setting).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// Found out at verification: the site first, the gateway when the site answers 401.
    #[default]
    Auto,
    /// A classic API token: calls go to the site.
    Classic,
    /// An API token with scopes (or a service account's): calls go through the gateway.
    Scoped,
}

/// Where REST calls go: the base every `/rest/...` path is joined to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRoute {
    /// The site URL, or `{gateway}/ex/jira/{cloudId}`.
    pub base: Url,
    /// The site's cloud id, when calls go through the gateway.
    pub cloud_id: Option<String>,
}

/// Facts keys (beside the create facts, `createmeta.rs`).
const KIND_KEY: &str = "token_kind";
const CLOUD_ID_KEY: &str = "cloud_id";
const BASE_KEY: &str = "api_base";

impl ApiRoute {
    /// Calls at the site (a classic token).
    pub fn site(site: &Url) -> ApiRoute {
        ApiRoute {
            base: site.clone(),
            cloud_id: None,
        }
    }

    /// Calls through the gateway at `gateway` (a path prefix is kept) for the site with
    /// `cloud_id`. A cloud id is a UUID; anything else (it comes from the network) is refused
    /// rather than put in a path.
    pub fn gateway(gateway: &Url, cloud_id: &str) -> Result<ApiRoute, ConnectorError> {
        let id = cloud_id.trim();
        if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        {
            return Err(ConnectorError::invalid(
                super::SYSTEM,
                "the site's cloud id (/_edge/tenant_info) is not a UUID",
            ));
        }
        let base = crate::http::join(gateway, &format!("/ex/jira/{id}"))
            .map_err(|e| ConnectorError::invalid(super::SYSTEM, e.to_string()))?;
        Ok(ApiRoute {
            base,
            cloud_id: Some(id.to_string()),
        })
    }

    /// Whether calls go through the gateway.
    pub fn is_gateway(&self) -> bool {
        self.cloud_id.is_some()
    }

    /// The token kind this route is for (never `Auto`).
    pub fn token_kind(&self) -> TokenKind {
        if self.is_gateway() {
            TokenKind::Scoped
        } else {
            TokenKind::Classic
        }
    }

    /// For the verification message.
    pub fn describe(&self) -> String {
        match &self.cloud_id {
            Some(id) => format!(
                "with an API token with scopes, through Atlassian's API gateway (cloud id {id})"
            ),
            None => "with a classic API token, at the site".to_string(),
        }
    }

    /// Store the route with the connection's facts: `token_kind`, `cloud_id`, `api_base`.
    pub fn add_to_facts(&self, facts: &mut Map<String, Value>) {
        let kind = serde_json::to_value(self.token_kind()).unwrap_or(Value::Null);
        facts.insert(KIND_KEY.into(), kind);
        facts.insert(
            CLOUD_ID_KEY.into(),
            self.cloud_id.clone().map_or(Value::Null, Value::String),
        );
        facts.insert(BASE_KEY.into(), Value::String(self.base.to_string()));
    }

    /// The route stored by the last verification, when it fits these settings: the same site
    /// and gateway, and a token kind the setting allows. Anything else is found out again.
    pub fn from_facts(
        facts: &Map<String, Value>,
        site: &Url,
        gateway: &Url,
        setting: TokenKind,
    ) -> Option<ApiRoute> {
        let kind: TokenKind = serde_json::from_value(facts.get(KIND_KEY)?.clone()).ok()?;
        if setting != TokenKind::Auto && setting != kind {
            return None;
        }
        let route = match kind {
            TokenKind::Classic => ApiRoute::site(site),
            TokenKind::Scoped => {
                ApiRoute::gateway(gateway, facts.get(CLOUD_ID_KEY)?.as_str()?).ok()?
            }
            TokenKind::Auto => return None,
        };
        (facts.get(BASE_KEY)?.as_str()? == route.base.as_str()).then_some(route)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0b7f3c52-8e1d-4a6b-9c27-5d4e1f9a2b63";

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn the_gateway_base_carries_the_cloud_id_and_keeps_a_path_prefix() {
        let r = ApiRoute::gateway(&url(GATEWAY), ID).unwrap();
        assert_eq!(
            r.base.as_str(),
            format!("https://api.atlassian.com/ex/jira/{ID}")
        );
        let proxied = ApiRoute::gateway(&url("https://proxy.example/atlassian/"), ID).unwrap();
        assert_eq!(
            proxied.base.as_str(),
            format!("https://proxy.example/atlassian/ex/jira/{ID}")
        );
    }

    #[test]
    fn a_cloud_id_that_is_not_a_uuid_never_reaches_a_path() {
        for bad in ["", "../../admin", "abc/def", "id?x=1", &"a".repeat(65)] {
            assert!(ApiRoute::gateway(&url(GATEWAY), bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_stored_route_is_used_only_for_the_same_site_gateway_and_a_kind_the_setting_allows() {
        let site = url("https://acme.atlassian.net");
        let gateway = url(GATEWAY);
        let scoped = ApiRoute::gateway(&gateway, ID).unwrap();
        let mut facts = Map::new();
        scoped.add_to_facts(&mut facts);
        assert_eq!(facts["token_kind"], "scoped");
        assert_eq!(facts["cloud_id"], ID);
        for setting in [TokenKind::Auto, TokenKind::Scoped] {
            assert_eq!(
                ApiRoute::from_facts(&facts, &site, &gateway, setting),
                Some(scoped.clone())
            );
        }
        assert_eq!(
            ApiRoute::from_facts(&facts, &site, &gateway, TokenKind::Classic),
            None
        );
        let other_gateway = url("https://proxy.example");
        assert_eq!(
            ApiRoute::from_facts(&facts, &site, &other_gateway, TokenKind::Auto),
            None
        );

        let mut facts = Map::new();
        ApiRoute::site(&site).add_to_facts(&mut facts);
        assert_eq!(
            ApiRoute::from_facts(&facts, &site, &gateway, TokenKind::Auto),
            Some(ApiRoute::site(&site))
        );
        let other_site = url("https://other.atlassian.net");
        assert_eq!(
            ApiRoute::from_facts(&facts, &other_site, &gateway, TokenKind::Auto),
            None
        );
        assert_eq!(
            ApiRoute::from_facts(&Map::new(), &site, &gateway, TokenKind::Auto),
            None
        );
    }
}
