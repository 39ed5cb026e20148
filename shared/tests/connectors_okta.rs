//! Okta client request shapes (Okta Management API,
//! <https://developer.okta.com/docs/api/openapi/okta-management/guides/overview>)
//! against a recording fake.

mod support_http;

use riskflow::connectors::ConnectorError;
use riskflow::connectors::okta::*;
use riskflow::ports::{IdentityProvider, IdpUser, UserLookup};
use secrecy::SecretString;
use serde_json::{Value, json};
use support_http::{Recorder, Reply, Request, http};

fn client(rec: &Recorder) -> OktaClient {
    OktaClient::new(rec.url(), SecretString::from("okta-demo-token"), http())
}

fn user(id: &str, login: &str) -> Value {
    json!({"id": id, "status": "ACTIVE", "profile": {"login": login, "email": login, "firstName": "J"}})
}

fn group(id: &str, t: &str) -> Value {
    json!({"id": id, "type": t, "objectClass": ["okta:user_group"], "profile": {"name": "Departing-Restricted", "description": null}})
}

#[tokio::test]
async fn memberships_are_changed_with_put_and_delete_and_the_ssws_header() {
    let rec = Recorder::start(|_| {
        Reply::empty(204)
            .header("x-rate-limit-limit", "600")
            .header("x-rate-limit-remaining", "598")
            .header("x-rate-limit-reset", "1700000000")
    })
    .await;
    let c = client(&rec);
    assert_eq!(c.rate_limit(), None);
    c.add_member("00gdeparting0restricted", "00u1", None)
        .await
        .unwrap();
    c.remove_member("00gdeparting0restricted", "00u1", None)
        .await
        .unwrap();
    let reqs = rec.requests();
    assert_eq!(
        reqs[0].line(),
        "PUT /api/v1/groups/00gdeparting0restricted/users/00u1"
    );
    assert_eq!(
        reqs[1].line(),
        "DELETE /api/v1/groups/00gdeparting0restricted/users/00u1"
    );
    for r in &reqs {
        assert_eq!(r.header("authorization"), Some("SSWS okta-demo-token"));
        assert_eq!(r.header("accept"), Some("application/json"));
        assert!(r.body.is_empty());
    }
    assert_eq!(
        c.rate_limit(),
        Some(RateLimit {
            limit: Some(600),
            remaining: Some(598),
            reset: Some(1_700_000_000)
        })
    );
}

#[tokio::test]
async fn a_login_is_looked_up_as_one_encoded_segment_and_404_is_none() {
    let rec = Recorder::start(|r| {
        if r.path == "/api/v1/users/jane.doe@example.com" {
            Reply::json(200, user("00u1", "jane.doe@example.com"))
        } else {
            Reply::json(
                404,
                json!({"errorCode": "E0000007", "errorSummary": "Not found: Resource not found: x (User)", "errorCauses": []}),
            )
        }
    })
    .await;
    let c = client(&rec);
    let u = c
        .user_by_login("jane.doe@example.com", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.id, "00u1");
    assert_eq!(u.status, Some(UserStatus::Active));
    assert_eq!(u.profile.login.as_deref(), Some("jane.doe@example.com"));
    assert!(
        c.user_by_login("a/b?c@x.com", None)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(rec.requests()[1].path, "/api/v1/users/a%2Fb%3Fc@x.com");
}

#[tokio::test]
async fn groups_other_than_okta_groups_are_refused_with_a_clear_message() {
    let rec = Recorder::start(|r| match r.path.as_str() {
        "/api/v1/groups/00gapp" => Reply::json(200, group("00gapp", "APP_GROUP")),
        "/api/v1/groups/00gbuiltin" => Reply::json(200, group("00gbuiltin", "BUILT_IN")),
        _ => Reply::json(200, group("00gok", "OKTA_GROUP")),
    })
    .await;
    let c = client(&rec);
    let err = c.check_group_manageable("00gapp", None).await.unwrap_err();
    match &err {
        ConnectorError::Invalid { message, .. } => {
            assert_eq!(
                message,
                "Okta group 00gapp is an APP_GROUP; its members can't be changed"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(c.check_group_manageable("00gbuiltin", None).await.is_err());
    let g = c.check_group_manageable("00gok", None).await.unwrap();
    assert_eq!(g.group_type, Some(GroupType::OktaGroup));
    assert_eq!(g.name(), "Departing-Restricted");
}

#[tokio::test]
async fn verify_checks_the_token_and_the_configured_group() {
    let rec = Recorder::start(|r| match r.path.as_str() {
        "/api/v1/users/me" if r.header("authorization") == Some("SSWS okta-demo-token") => {
            Reply::json(200, user("00uadmin", "admin@example.com"))
        }
        "/api/v1/users/me" => Reply::json(
            401,
            json!({"errorCode": "E0000011", "errorSummary": "Invalid token provided", "errorCauses": []}),
        ),
        "/api/v1/groups/00gapp" => Reply::json(200, group("00gapp", "APP_GROUP")),
        _ => Reply::json(200, group("00gok", "OKTA_GROUP")),
    })
    .await;
    let c = client(&rec);
    assert_eq!(
        c.verify(None, None).await.unwrap(),
        "Connected to Okta as admin@example.com"
    );
    assert_eq!(
        c.verify(Some("00gok"), None).await.unwrap(),
        "Connected to Okta as admin@example.com"
    );
    assert!(matches!(
        c.verify(Some("00gapp"), None).await,
        Err(ConnectorError::Invalid { .. })
    ));
    let wrong = OktaClient::new(rec.url(), SecretString::from("bad"), http());
    let err = wrong.verify(None, None).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(
        err.to_string(),
        "okta answered 401 to GET /api/v1/users/me: E0000011: Invalid token provided"
    );
    let lines: Vec<String> = rec.requests().iter().map(Request::line).collect();
    assert_eq!(
        lines[..3],
        [
            "GET /api/v1/users/me",
            "GET /api/v1/users/me",
            "GET /api/v1/groups/00gok"
        ]
    );
}

#[tokio::test]
async fn is_member_reads_the_users_groups_and_follows_next_links_on_the_same_origin() {
    let rec = Recorder::start(|r| {
        let origin = format!("http://{}", r.header("host").unwrap_or_default());
        if r.query.contains("after=") {
            Reply::json(200, json!([group("00g3", "OKTA_GROUP")])).header(
                "link",
                &format!("<{origin}/api/v1/users/00u1/groups?after=00g2&limit=200>; rel=\"self\""),
            )
        } else {
            Reply::json(
                200,
                json!([group("00g1", "BUILT_IN"), group("00g2", "OKTA_GROUP")]),
            )
            .header(
                "link",
                &format!("<{origin}/api/v1/users/00u1/groups?limit=200>; rel=\"self\""),
            )
            .header(
                "link",
                &format!("<{origin}/api/v1/users/00u1/groups?after=00g2&limit=200>; rel=\"next\""),
            )
        }
    })
    .await;
    let c = client(&rec);
    assert!(c.is_member("00g3", "00u1", None).await.unwrap());
    assert!(c.is_member("00g1", "00u1", None).await.unwrap());
    assert!(!c.is_member("00g9", "00u1", None).await.unwrap());
    let lines: Vec<String> = rec.requests().iter().map(Request::line).collect();
    assert_eq!(
        lines,
        [
            "GET /api/v1/users/00u1/groups?limit=200",
            "GET /api/v1/users/00u1/groups?after=00g2&limit=200",
            "GET /api/v1/users/00u1/groups?limit=200",
            "GET /api/v1/users/00u1/groups?limit=200",
            "GET /api/v1/users/00u1/groups?after=00g2&limit=200",
        ]
    );
    assert!(
        rec.requests()
            .iter()
            .all(|r| r.header("authorization") == Some("SSWS okta-demo-token"))
    );
}

#[tokio::test]
async fn a_next_link_to_another_origin_is_refused_and_not_followed() {
    let rec = Recorder::start(|_| {
        Reply::json(200, json!([group("00g1", "OKTA_GROUP")])).header(
            "link",
            "<https://evil.example/api/v1/users/00u9/groups?after=x>; rel=\"next\"",
        )
    })
    .await;
    let err = client(&rec)
        .is_member("00g2", "00u9", None)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Invalid { .. }), "{err}");
    assert_eq!(rec.requests().len(), 1);
}

fn idp(rec: &Recorder) -> OktaIdp {
    OktaIdp {
        client: std::sync::Arc::new(client(rec)),
    }
}

fn not_found() -> Reply {
    Reply::json(
        404,
        json!({"errorCode": "E0000007", "errorSummary": "Not found: Resource not found: x (User)", "errorCauses": []}),
    )
}

#[tokio::test]
async fn an_email_that_is_no_login_is_searched_and_the_answer_is_checked_again() {
    let rec = Recorder::start(|r| {
        if r.path != "/api/v1/users" {
            return not_found();
        }
        let mut suspended = user("00u3", "jane.old@corp.example");
        suspended["status"] = json!("SUSPENDED");
        suspended["profile"]["email"] = json!("jane.doe@example.com");
        let mut jane = user("00u1", "jdoe@corp.example");
        jane["profile"]["email"] = json!("Jane.Doe@Example.com");
        // A server whose filter matched too much: only the exact, active one counts.
        Reply::json(
            200,
            json!([jane, suspended, user("00u2", "jane.doe@example.co")]),
        )
    })
    .await;
    let found = idp(&rec)
        .user_by_email("jane.doe@example.com", None)
        .await
        .unwrap();
    assert_eq!(
        found,
        UserLookup::One(IdpUser {
            id: "00u1".into(),
            login: "jdoe@corp.example".into()
        })
    );
    let reqs = rec.requests();
    assert_eq!(reqs[0].line(), "GET /api/v1/users/jane.doe@example.com");
    assert_eq!(
        reqs[1].line(),
        "GET /api/v1/users?search=profile.email%20eq%20%22jane.doe@example.com%22"
    );
    assert_eq!(reqs.len(), 2);
}

#[tokio::test]
async fn a_login_found_first_is_not_searched_and_two_active_matches_are_ambiguous() {
    let rec = Recorder::start(|r| match r.path.as_str() {
        "/api/v1/users/jane.doe@example.com" => {
            Reply::json(200, user("00u1", "jane.doe@example.com"))
        }
        "/api/v1/users" => Reply::json(
            200,
            json!([
                user("00u2", "shared@example.com"),
                user("00u3", "SHARED@example.com")
            ]),
        ),
        _ => not_found(),
    })
    .await;
    let i = idp(&rec);
    assert!(matches!(
        i.user_by_email("jane.doe@example.com", None).await.unwrap(),
        UserLookup::One(IdpUser { id, .. }) if id == "00u1"
    ));
    assert_eq!(rec.requests().len(), 1, "found by login: no search");
    assert_eq!(
        i.user_by_email("shared@example.com", None).await.unwrap(),
        UserLookup::Ambiguous { matches: 2 }
    );
}

#[tokio::test]
async fn an_email_with_a_quote_backslash_or_control_character_is_refused_before_any_request() {
    let rec = Recorder::start(|_| Reply::json(200, json!([]))).await;
    let i = idp(&rec);
    for (email, what) in [
        ("a\"b@example.com", "a double quote"),
        ("a\\b@example.com", "a backslash"),
        ("a\u{7}b@example.com", "the control character U+0007"),
    ] {
        let err = i.user_by_email(email, None).await.unwrap_err();
        assert!(matches!(err, ConnectorError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains(what), "{err}");
    }
    assert!(rec.requests().is_empty());
}

#[tokio::test]
async fn a_429_waits_for_the_okta_reset_against_the_server_date() {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    let rec = Recorder::start(move |_| {
        if h.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            let now = std::time::SystemTime::now();
            let reset = now
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            Reply::json(
                429,
                json!({"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit due to too many requests."}),
            )
            .header("date", &httpdate::fmt_http_date(now))
            .header("x-rate-limit-reset", &reset.to_string())
            .header("x-rate-limit-remaining", "0")
        } else {
            Reply::empty(204)
        }
    })
    .await;
    let started = std::time::Instant::now();
    client(&rec).add_member("g1", "00u1", None).await.unwrap();
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "waited reset − Date + 1 s"
    );
    assert_eq!(rec.requests().len(), 2);
}

#[test]
fn client_futures_can_be_sent_between_threads() {
    fn assert_send<T: Send>(_: &T) {}
    let c = OktaClient::new(
        url::Url::parse("https://acme.okta.com").unwrap(),
        SecretString::from("x"),
        http(),
    );
    assert_send(&c.verify(Some("g"), None));
    assert_send(&c.user_by_login("a@b.c", None));
    assert_send(&c.active_users_with_email("a@b.c", None));
    assert_send(&c.group("g", None));
    assert_send(&c.check_group_manageable("g", None));
    assert_send(&c.add_member("g", "u", None));
    assert_send(&c.remove_member("g", "u", None));
    assert_send(&c.is_member("g", "u", None));
}

// ---------------------------------------------------------------------------------------------
// Against the sandbox (`riskflow-sandbox`, demo data)

mod against_the_sandbox {
    use super::*;
    use riskflow_sandbox::okta::{AppKey, OktaAppSeed, OktaMembership, OktaUserSeed};
    use riskflow_sandbox::{
        DEPARTING_EMAIL, FaultKind, FaultRule, OKTA_APP_GROUP_ID, OKTA_DEPARTING_GROUP_ID,
        OKTA_DEPARTING_USER_ID, Sandbox, SeedData, creds, seed_demo,
    };

    async fn demo() -> (Sandbox, OktaClient) {
        let sb = Sandbox::start(0).await.expect("sandbox");
        seed_demo(&sb.state());
        let c = OktaClient::new(
            url::Url::parse(&sb.url("okta")).unwrap(),
            SecretString::from(creds::OKTA_API_TOKEN),
            http(),
        );
        (sb, c)
    }

    #[tokio::test]
    async fn a_departing_user_is_added_to_and_removed_from_the_restricted_group() {
        let (sb, c) = demo().await;
        let msg = c.verify(Some(OKTA_DEPARTING_GROUP_ID), None).await.unwrap();
        assert!(msg.starts_with("Connected to Okta as "), "{msg}");
        let rl = c
            .rate_limit()
            .expect("okta sends X-Rate-Limit-* on every answer");
        assert!(rl.limit.is_some() && rl.remaining.is_some() && rl.reset.is_some());

        let user = c
            .user_by_login(DEPARTING_EMAIL, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.id, OKTA_DEPARTING_USER_ID);
        assert!(
            c.user_by_login("nobody@example.com", None)
                .await
                .unwrap()
                .is_none()
        );

        assert!(
            !c.is_member(OKTA_DEPARTING_GROUP_ID, &user.id, None)
                .await
                .unwrap()
        );
        c.add_member(OKTA_DEPARTING_GROUP_ID, &user.id, None)
            .await
            .unwrap();
        c.add_member(OKTA_DEPARTING_GROUP_ID, &user.id, None)
            .await
            .unwrap(); // idempotent
        assert!(
            c.is_member(OKTA_DEPARTING_GROUP_ID, &user.id, None)
                .await
                .unwrap()
        );
        assert_eq!(
            sb.state().okta_group_member_ids(OKTA_DEPARTING_GROUP_ID),
            vec![OKTA_DEPARTING_USER_ID.to_string()]
        );
        c.remove_member(OKTA_DEPARTING_GROUP_ID, &user.id, None)
            .await
            .unwrap();
        assert!(
            !c.is_member(OKTA_DEPARTING_GROUP_ID, &user.id, None)
                .await
                .unwrap()
        );
        assert!(
            sb.state()
                .okta_group_member_ids(OKTA_DEPARTING_GROUP_ID)
                .is_empty()
        );
    }

    #[tokio::test]
    async fn an_app_group_is_refused_with_the_exact_message() {
        let (sb, c) = demo().await;
        let err = c
            .check_group_manageable(OKTA_APP_GROUP_ID, None)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "okta: Okta group {OKTA_APP_GROUP_ID} is an APP_GROUP; its members can't be changed"
            )
        );
        assert!(matches!(
            c.verify(Some(OKTA_APP_GROUP_ID), None).await,
            Err(ConnectorError::Invalid { .. })
        ));
        // Were it tried anyway, Okta itself refuses.
        let err = c
            .add_member(OKTA_APP_GROUP_ID, OKTA_DEPARTING_USER_ID, None)
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(403));
        assert!(err.to_string().contains("E0000006"), "{err}");
        // Membership of the app group is still readable.
        assert!(
            c.is_member(OKTA_APP_GROUP_ID, OKTA_DEPARTING_USER_ID, None)
                .await
                .unwrap()
        );
        assert_eq!(sb.state().okta_group_member_ids(OKTA_APP_GROUP_ID).len(), 2);
    }

    #[tokio::test]
    async fn membership_in_a_group_of_a_thousand_is_one_request() {
        let (sb, c) = demo().await;
        let mut seed = SeedData::default();
        for i in 0..1000 {
            seed.okta_users.push(OktaUserSeed {
                id: Some(format!("00ubulk{i:014}")),
                login: format!("bulk{i}@example.com"),
                ..OktaUserSeed::default()
            });
            seed.okta_memberships.push(OktaMembership {
                group_id: OKTA_DEPARTING_GROUP_ID.into(),
                user: format!("00ubulk{i:014}"),
            });
        }
        sb.state().seed(seed);
        let last = sb
            .state()
            .okta_group_member_ids(OKTA_DEPARTING_GROUP_ID)
            .pop()
            .unwrap();
        sb.state().reset_counts();
        assert!(
            c.is_member(OKTA_DEPARTING_GROUP_ID, &last, None)
                .await
                .unwrap()
        );
        assert_eq!(sb.state().counts().system_total("okta"), 1);
        assert!(
            !c.is_member(OKTA_DEPARTING_GROUP_ID, OKTA_DEPARTING_USER_ID, None)
                .await
                .unwrap()
        );
        assert_eq!(
            sb.state().counts().system_total("okta"),
            2,
            "one request per lookup"
        );
    }

    /// Okta users whose login is not their email: one alone, two sharing an address.
    fn seed_aliases(sb: &Sandbox) {
        for (login, email) in [
            ("jdoe@corp.example", "jane.doe@example.com"),
            ("shared.one@corp.example", "shared@example.com"),
            ("shared.two@corp.example", "Shared@example.com"),
        ] {
            sb.state()
                .add_okta_user(OktaUserSeed::with_email(login, email));
        }
    }

    #[tokio::test]
    async fn a_login_that_is_not_the_email_is_found_by_email_and_a_shared_email_is_ambiguous() {
        let (sb, c) = demo().await;
        seed_aliases(&sb);
        let i = OktaIdp {
            client: std::sync::Arc::new(c),
        };
        let jane = sb.state().okta_user_id("jdoe@corp.example").unwrap();
        assert_eq!(
            i.user_by_email("jane.doe@example.com", None).await.unwrap(),
            UserLookup::One(IdpUser {
                id: jane,
                login: "jdoe@corp.example".into()
            })
        );
        assert_eq!(
            i.user_by_email("shared@example.com", None).await.unwrap(),
            UserLookup::Ambiguous { matches: 2 }
        );
        assert_eq!(
            i.user_by_email("nobody@example.com", None).await.unwrap(),
            UserLookup::None
        );
        assert!(matches!(
            i.user_by_email(DEPARTING_EMAIL, None).await.unwrap(),
            UserLookup::One(IdpUser { id, .. }) if id == OKTA_DEPARTING_USER_ID
        ));
    }

    #[tokio::test]
    async fn a_wrong_token_is_a_401_with_the_okta_error_code() {
        let (sb, _) = demo().await;
        let c = OktaClient::new(
            url::Url::parse(&sb.url("okta")).unwrap(),
            SecretString::from("wrong"),
            http(),
        );
        let err = c.verify(None, None).await.unwrap_err();
        assert_eq!(err.status(), Some(401));
        assert!(err.to_string().contains("E0000011"), "{err}");
        assert!(!err.to_string().contains("wrong"));
    }

    #[tokio::test]
    async fn a_429_without_a_reset_header_falls_back_to_backoff_and_succeeds() {
        let (sb, c) = demo().await;
        sb.state().add_fault(
            FaultRule::new("okta", FaultKind::RateLimit { retry_after: None })
                .method("PUT")
                .max_hits(2),
        );
        c.add_member(OKTA_DEPARTING_GROUP_ID, OKTA_DEPARTING_USER_ID, None)
            .await
            .unwrap();
        assert_eq!(sb.state().fault_hits(), vec![2]);
        assert_eq!(sb.state().counts().status("okta", "429"), 2);
        assert_eq!(
            sb.state()
                .okta_group_member_ids(OKTA_DEPARTING_GROUP_ID)
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn under_a_rate_limit_every_call_still_succeeds_after_waiting() {
        let (sb, c) = demo().await;
        sb.state().set_rate_limit("okta", Some(2.0));
        for _ in 0..5 {
            assert!(
                !c.is_member(OKTA_DEPARTING_GROUP_ID, OKTA_DEPARTING_USER_ID, None)
                    .await
                    .unwrap()
            );
        }
        assert!(sb.state().counts().status("okta", "429") >= 1);
        let rl = c.rate_limit().unwrap();
        assert_eq!(rl.limit, Some(2));
    }

    /// A client of the demo org acting as the service app `client_id`, registered with
    /// `scopes`, DPoP required or not, tokens living `ttl` seconds.
    fn service_app(sb: &Sandbox, client_id: &str, require_dpop: bool, ttl: u64) -> OktaClient {
        let key = AppKey::generate();
        sb.state().add_okta_app(OktaAppSeed {
            client_id: client_id.into(),
            public_key_der: key.public_der.clone(),
            scopes: vec!["okta.users.read".into(), "okta.groups.manage".into()],
            require_dpop,
            token_ttl_secs: Some(ttl),
        });
        let app = ServiceApp::new(client_id, &SecretString::from(key.private_pem), None).unwrap();
        OktaClient::with_service_app(url::Url::parse(&sb.url("okta")).unwrap(), app, http())
    }

    /// Verify, look a user up, add them and check: what containment does.
    async fn contain(c: OktaClient) -> OktaIdp {
        let msg = c.verify(Some(OKTA_DEPARTING_GROUP_ID), None).await.unwrap();
        assert!(
            msg.starts_with("Connected to Okta as the service app 0oa"),
            "{msg}"
        );
        let i = OktaIdp {
            client: std::sync::Arc::new(c),
        };
        let UserLookup::One(user) = i.user_by_email(DEPARTING_EMAIL, None).await.unwrap() else {
            panic!("the departing user")
        };
        i.add_member(OKTA_DEPARTING_GROUP_ID, &user.id, None)
            .await
            .unwrap();
        assert!(
            i.is_member(OKTA_DEPARTING_GROUP_ID, &user.id, None)
                .await
                .unwrap()
        );
        i
    }

    #[tokio::test]
    async fn a_service_app_gets_one_bearer_token_and_no_user_stands_behind_it() {
        let (sb, _) = demo().await;
        let c = service_app(&sb, "0oaplain", false, 3600);
        sb.state().reset_counts();
        let i = contain(c).await;
        assert_eq!(i.token_owner(None).await.unwrap(), None);
        assert_eq!(sb.state().okta_token_requests(), ["issued"]);
        assert_eq!(
            sb.state().count("okta", "GET", "/api/v1/users/me"),
            0,
            "a service app is verified with its group, not /users/me"
        );
        assert_eq!(
            sb.state().okta_group_member_ids(OKTA_DEPARTING_GROUP_ID),
            [OKTA_DEPARTING_USER_ID]
        );
    }

    #[tokio::test]
    async fn a_token_about_to_expire_is_renewed_before_the_call() {
        let (sb, _) = demo().await;
        let c = service_app(&sb, "0oashort", false, 30);
        contain(c).await;
        let issued = sb.state().okta_token_requests();
        assert!(issued.len() >= 4, "one token per call: {issued:?}");
        assert!(issued.iter().all(|r| r == "issued"), "{issued:?}");
    }

    #[tokio::test]
    async fn an_app_that_requires_dpop_gets_a_bound_token_after_the_nonce_and_proves_each_call() {
        let (sb, _) = demo().await;
        let c = service_app(&sb, "0oadpop", true, 3600);
        contain(c).await;
        assert_eq!(
            sb.state().okta_token_requests(),
            ["invalid_dpop_proof", "use_dpop_nonce", "issued"]
        );
        assert_eq!(
            sb.state().okta_group_member_ids(OKTA_DEPARTING_GROUP_ID),
            [OKTA_DEPARTING_USER_ID]
        );
    }

    #[tokio::test]
    async fn an_assertion_signed_with_another_key_is_refused_with_invalid_client() {
        let (sb, _) = demo().await;
        service_app(&sb, "0oarotated", false, 3600);
        let other = AppKey::generate();
        let app =
            ServiceApp::new("0oarotated", &SecretString::from(other.private_pem), None).unwrap();
        let c =
            OktaClient::with_service_app(url::Url::parse(&sb.url("okta")).unwrap(), app, http());
        let err = c
            .verify(Some(OKTA_DEPARTING_GROUP_ID), None)
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(401), "{err}");
        assert!(err.to_string().contains("invalid_client"), "{err}");
        assert!(format!("{c:?}").contains("[redacted]"));
        assert_eq!(sb.state().okta_token_requests(), ["invalid_client"]);
    }
}
