//! Okta's rate limits are per endpoint (developer.okta.com/docs/reference/rl-global-mgmt:
//! `/api/v1/users/{id}`, `/api/v1/users` with `search`, `/api/v1/groups/{id}/users`, … each
//! have their own per-minute budget, reported in `X-Rate-Limit-*` on every answer). A client
//! that paced all of them as one would let a spent search budget slow membership writes.

/// The rate-limit family of an Okta call: its method and its path with the ids (every segment
/// after a collection name: `/api/v1/users/{id}/groups/{id}`) as `*`.
pub fn endpoint_family(method: &reqwest::Method, path: &str) -> String {
    let template: Vec<&str> = path
        .split('/')
        .enumerate()
        .map(|(i, seg)| if i >= 4 && i % 2 == 0 { "*" } else { seg })
        .collect();
    format!("{method} {}", template.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::Method;

    #[test]
    fn calls_to_one_endpoint_share_a_family_and_other_endpoints_or_methods_do_not() {
        let user = endpoint_family(&Method::GET, "/api/v1/users/00u1");
        assert_eq!(user, "GET /api/v1/users/*");
        assert_eq!(
            user,
            endpoint_family(&Method::GET, "/api/v1/users/jane%40example.com")
        );
        assert_eq!(user, endpoint_family(&Method::GET, "/api/v1/users/me"));
        let search = endpoint_family(&Method::GET, "/api/v1/users");
        assert_ne!(user, search);
        let add = endpoint_family(&Method::PUT, "/api/v1/groups/00g1/users/00u1");
        assert_eq!(add, "PUT /api/v1/groups/*/users/*");
        assert_eq!(
            add,
            endpoint_family(&Method::PUT, "/api/v1/groups/00g2/users/00u9")
        );
        assert_ne!(
            add,
            endpoint_family(&Method::DELETE, "/api/v1/groups/00g1/users/00u1")
        );
        assert_eq!(
            endpoint_family(&Method::GET, "/api/v1/users/00u1/groups"),
            "GET /api/v1/users/*/groups"
        );
    }
}
