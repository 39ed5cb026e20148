//! Talking to a deployed riskflow API (`--api-url`): every request is signed with SigV4 for
//! `execute-api` using the standard AWS credential chain (environment, profile, SSO, instance
//! role), as API Gateway's IAM authorisation requires.

use anyhow::{Context, Result, anyhow};
use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use riskflow::api::ApiRequest;
use serde_json::Value;
use std::time::SystemTime;
use url::Url;

pub struct Remote {
    base: Url,
    client: reqwest::Client,
    sdk: aws_config::SdkConfig,
}

impl Remote {
    pub async fn new(api_url: &str) -> Result<Remote> {
        let base =
            Url::parse(api_url).with_context(|| format!("--api-url {api_url} is not a URL"))?;
        if base.scheme() != "https"
            && !riskflow::http::check_user_url(api_url, true).is_ok_and(|u| {
                u.host_str()
                    .is_some_and(|h| h == "127.0.0.1" || h == "localhost")
            })
        {
            return Err(anyhow!(
                "--api-url must be https:// (the deployed API's URL)"
            ));
        }
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        if sdk.region().is_none() {
            return Err(anyhow!(
                "no AWS region: set AWS_REGION (or a profile's region) to the deployment's region"
            ));
        }
        // No redirect is followed: a 307/308 would send the signed request again, body and all
        // (a connect body carries secrets), to wherever the answer points.
        let client = reqwest::Client::builder()
            .user_agent(riskflow::http::USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Remote { base, client, sdk })
    }

    /// Send a request to the deployed API, signed; answers the status and the JSON body.
    pub async fn send(&self, req: &ApiRequest) -> Result<(u16, Value)> {
        let mut url = riskflow::http::join(&self.base, &req.path)?;
        if !req.query.is_empty() {
            url.query_pairs_mut().extend_pairs(req.query.iter());
        }
        let creds = self
            .sdk
            .credentials_provider()
            .ok_or_else(|| anyhow!("no AWS credentials provider is configured"))?
            .provide_credentials()
            .await
            .context("reading AWS credentials (environment, profile, SSO or instance role)")?;
        let region = self.sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let identity = creds.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&region)
            .name("execute-api")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .context("building the SigV4 signing parameters")?
            .into();
        let content_type = req
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut headers: Vec<(&str, String)> = Vec::new();
        if let Some(ct) = &content_type {
            headers.push(("content-type", ct.clone()));
        }
        let signable = SignableRequest::new(
            req.method.as_str(),
            url.as_str(),
            headers.iter().map(|(k, v)| (*k, v.as_str())),
            SignableBody::Bytes(&req.body),
        )
        .context("preparing the request for signing")?;
        let (instructions, _sig) = sign(signable, &params)
            .context("signing the request")?
            .into_parts();
        let mut hreq = http::Request::builder()
            .method(req.method.clone())
            .uri(url.as_str());
        if let Some(ct) = &content_type {
            hreq = hreq.header(http::header::CONTENT_TYPE, ct);
        }
        let mut hreq = hreq.body(req.body.to_vec())?;
        instructions.apply_to_request_http1x(&mut hreq);
        let mut rb = self.client.request(req.method.clone(), url.as_str());
        for (k, v) in hreq.headers() {
            rb = rb.header(k, v);
        }
        let resp = rb
            .body(req.body.to_vec())
            .send()
            .await
            .with_context(|| format!("calling {}", self.base))?;
        let status = resp.status().as_u16();
        if resp.status().is_redirection() {
            let location = resp
                .headers()
                .get(http::header::LOCATION)
                .map(|l| {
                    String::from_utf8_lossy(l.as_bytes())
                        .chars()
                        .take(300)
                        .collect()
                })
                .unwrap_or_else(|| "nowhere (no Location header)".to_string());
            return Err(anyhow!(
                "{} answered {status}, a redirect to {location}; riskflow follows no redirect \
                 (the request would be sent again, secrets included): pass the API's own URL as --api-url",
                self.base
            ));
        }
        let body = resp.bytes().await.unwrap_or_default();
        let value = serde_json::from_slice(&body).unwrap_or_else(|_| {
            serde_json::json!({"message": String::from_utf8_lossy(&body).chars().take(300).collect::<String>()})
        });
        Ok((status, value))
    }
}
