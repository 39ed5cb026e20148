//! Okta: SSWS auth, headers on every answer, users, groups, membership, paging, 429.

use reqwest::StatusCode;
use riskflow_sandbox::okta::OktaUserSeed;
use riskflow_sandbox::{
    DEPARTING_EMAIL, OKTA_APP_GROUP_ID, OKTA_DEPARTING_GROUP_ID, OKTA_DEPARTING_USER_ID, creds,
};
use serde_json::Value;

use crate::common::{client, demo, header, json_of};

fn ssws(rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    rb.header("Authorization", format!("SSWS {}", creds::OKTA_API_TOKEN))
}

fn assert_okta_headers(resp: &reqwest::Response) {
    for h in [
        "date",
        "x-rate-limit-limit",
        "x-rate-limit-remaining",
        "x-rate-limit-reset",
        "x-okta-request-id",
    ] {
        assert!(header(resp, h).is_some(), "missing {h}");
    }
    let reset: i64 = header(resp, "x-rate-limit-reset").unwrap().parse().unwrap();
    assert!(reset > 1_700_000_000);
}

#[tokio::test]
async fn a_bad_token_gets_e0000011_with_the_rate_limit_headers() {
    let sb = demo().await;
    let c = client();
    let resp = c
        .get(format!("{}/api/v1/users/me", sb.url("okta")))
        .header("Authorization", "SSWS wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_okta_headers(&resp);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["errorCode"], "E0000011");
    for k in ["errorSummary", "errorLink", "errorId", "errorCauses"] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
}

#[tokio::test]
async fn a_call_without_ssws_or_a_known_token_gets_e0000011() {
    let sb = demo().await;
    let c = client();
    let url = format!("{}/api/v1/groups/{OKTA_DEPARTING_GROUP_ID}", sb.url("okta"));
    for auth in [None, Some("Bearer not-a-token"), Some("DPoP not-a-token")] {
        let mut rb = c.get(&url);
        if let Some(a) = auth {
            rb = rb.header("Authorization", a);
        }
        let resp = rb.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["errorCode"], "E0000011");
    }
}

#[tokio::test]
async fn the_sdk_style_header_without_a_space_is_accepted() {
    let sb = demo().await;
    let c = client();
    let resp = c
        .get(format!("{}/api/v1/users/me", sb.url("okta")))
        .header("Authorization", format!("SSWS{}", creds::OKTA_API_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_okta_headers(&resp);
}

#[tokio::test]
async fn users_are_found_by_encoded_login_and_unknown_ones_get_e0000007() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("okta");
    for key in [
        "departing.dev%40example.com",
        "departing.dev@example.com",
        OKTA_DEPARTING_USER_ID,
        "departing.dev",
    ] {
        let resp = ssws(c.get(format!("{base}/api/v1/users/{key}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{key}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["id"], OKTA_DEPARTING_USER_ID);
        assert_eq!(v["profile"]["login"], DEPARTING_EMAIL);
        assert_eq!(v["status"], "ACTIVE");
    }
    let resp = ssws(c.get(format!("{base}/api/v1/users/nobody%40example.com")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_okta_headers(&resp);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["errorCode"], "E0000007");
    assert!(
        v["errorSummary"]
            .as_str()
            .unwrap()
            .starts_with("Not found: Resource not found")
    );
}

#[tokio::test]
async fn groups_are_found_by_search_q_and_id() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("okta");
    let by_search: Value = ssws(c.get(format!("{base}/api/v1/groups")))
        .query(&[("search", "profile.name eq \"Departing-Restricted\"")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_search.as_array().unwrap().len(), 1);
    assert_eq!(by_search[0]["id"], OKTA_DEPARTING_GROUP_ID);
    assert_eq!(by_search[0]["type"], "OKTA_GROUP");
    let by_q: Value = ssws(c.get(format!("{base}/api/v1/groups?q=Depart")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_q.as_array().unwrap().len(), 1);
    let apps: Value = ssws(c.get(format!("{base}/api/v1/groups")))
        .query(&[("filter", "type eq \"APP_GROUP\"")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(apps[0]["id"], OKTA_APP_GROUP_ID);
    let one = ssws(c.get(format!("{base}/api/v1/groups/{OKTA_DEPARTING_GROUP_ID}")))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), StatusCode::OK);
    let bad = ssws(c.get(format!("{base}/api/v1/groups")))
        .query(&[("search", "profile.name zz \"x\"")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn adding_to_an_okta_group_answers_204_and_app_groups_refuse() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("okta");
    let url =
        format!("{base}/api/v1/groups/{OKTA_DEPARTING_GROUP_ID}/users/{OKTA_DEPARTING_USER_ID}");
    for _ in 0..2 {
        let r = ssws(c.put(&url)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_okta_headers(&r);
    }
    assert_eq!(
        sb.state().okta_group_member_ids(OKTA_DEPARTING_GROUP_ID),
        vec![OKTA_DEPARTING_USER_ID.to_string()]
    );
    let app = ssws(c.put(format!(
        "{base}/api/v1/groups/{OKTA_APP_GROUP_ID}/users/{OKTA_DEPARTING_USER_ID}"
    )))
    .send()
    .await
    .unwrap();
    assert_eq!(app.status(), StatusCode::FORBIDDEN);
    let v: Value = app.json().await.unwrap();
    assert_eq!(v["errorCode"], "E0000006");
    let by_login = ssws(c.put(format!(
        "{base}/api/v1/groups/{OKTA_DEPARTING_GROUP_ID}/users/{DEPARTING_EMAIL}"
    )))
    .send()
    .await
    .unwrap();
    assert_eq!(by_login.status(), StatusCode::NOT_FOUND);
    let no_group = ssws(c.put(format!(
        "{base}/api/v1/groups/00gnope/users/{OKTA_DEPARTING_USER_ID}"
    )))
    .send()
    .await
    .unwrap();
    assert_eq!(no_group.status(), StatusCode::NOT_FOUND);
    let del = ssws(c.delete(&url)).send().await.unwrap();
    assert_eq!(del.status(), StatusCode::NO_CONTENT);
    assert!(
        sb.state()
            .okta_group_member_ids(OKTA_DEPARTING_GROUP_ID)
            .is_empty()
    );
    let snap = sb.state().snapshot();
    assert!(
        snap.okta_group_members
            .iter()
            .any(|g| g.group_id == OKTA_APP_GROUP_ID
                && g.member_logins.contains(&DEPARTING_EMAIL.to_string()))
    );
}

#[tokio::test]
async fn group_members_page_through_link_next() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("okta");
    let everyone: Value = ssws(c.get(format!("{base}/api/v1/groups?q=Everyone")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let gid = everyone[0]["id"].as_str().unwrap().to_string();
    let mut url = format!("{base}/api/v1/groups/{gid}/users?limit=2");
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let resp = ssws(c.get(&url)).send().await.unwrap();
        let links: Vec<String> = resp
            .headers()
            .get_all("link")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        assert!(links.iter().any(|l| l.ends_with("rel=\"self\"")));
        let page: Value = resp.json().await.unwrap();
        pages += 1;
        for u in page.as_array().unwrap() {
            ids.push(u["id"].as_str().unwrap().to_string());
        }
        match links.iter().find(|l| l.ends_with("rel=\"next\"")) {
            Some(l) => url = l[1..l.find('>').unwrap()].to_string(),
            None => break,
        }
    }
    // admin + six demo people
    assert_eq!(ids.len(), 7);
    assert_eq!(pages, 4);
    let mut sorted = ids.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 7);
}

#[tokio::test]
async fn users_are_searched_by_email_or_login_and_a_malformed_search_gets_e0000031() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("okta");
    for (login, email) in [
        ("jdoe@corp.example", "jane.doe@example.com"),
        ("shared.one@corp.example", "shared@example.com"),
        ("shared.two@corp.example", "SHARED@example.com"),
    ] {
        sb.state()
            .add_okta_user(OktaUserSeed::with_email(login, email));
    }
    let search =
        |expr: &str| ssws(c.get(format!("{base}/api/v1/users"))).query(&[("search", expr)]);
    let logins = async |expr: &str| -> Vec<String> {
        let v = json_of(search(expr)).await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|u| u["profile"]["login"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        logins(r#"profile.email eq "jane.doe@example.com""#).await,
        ["jdoe@corp.example"]
    );
    assert_eq!(
        logins(r#"profile.email eq "shared@example.com""#)
            .await
            .len(),
        2
    );
    assert_eq!(
        logins(r#"profile.login eq "jdoe@corp.example""#).await,
        ["jdoe@corp.example"]
    );
    for bad in [
        r#"profile.email eq "a"b@example.com""#,
        r#"profile.email eq "a"#,
    ] {
        let resp = search(bad).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_okta_headers(&resp);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["errorCode"], "E0000031");
        assert_eq!(v["errorSummary"], "Invalid search criteria.");
    }
}

#[tokio::test]
async fn a_users_groups_page_through_link_next() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("okta");
    let url = format!("{base}/api/v1/users/{OKTA_DEPARTING_USER_ID}/groups?limit=1");
    let resp = ssws(c.get(&url)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let next = resp
        .headers()
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|l| l.ends_with("rel=\"next\""))
        .expect("a next link");
    let first: Value = resp.json().await.unwrap();
    let next = &next[1..next.find('>').unwrap()];
    let second = json_of(ssws(c.get(next))).await;
    let ids: Vec<&str> = [&first, &second]
        .iter()
        .flat_map(|p| p.as_array().unwrap())
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "Everyone and the app group: {ids:?}");
    assert!(ids.contains(&OKTA_APP_GROUP_ID));
}

#[tokio::test]
async fn over_the_limit_okta_answers_e0000047_with_reset_headers() {
    let sb = demo().await;
    sb.state().set_rate_limit("okta", Some(2.0));
    let c = client();
    let url = format!("{}/api/v1/users/me", sb.url("okta"));
    let mut limited = None;
    for _ in 0..6 {
        let r = ssws(c.get(&url)).send().await.unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("a 429");
    assert_okta_headers(&r);
    assert_eq!(header(&r, "x-rate-limit-remaining").as_deref(), Some("0"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errorCode"], "E0000047");
}
