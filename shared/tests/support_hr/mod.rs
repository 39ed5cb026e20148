//! Helpers for the HR connector tests: a tiny recording HTTP server with scripted answers,
//! quick HTTP clients, generated client certificates, and the reference samples.

#![allow(dead_code)]

use riskflow::http::{ClientOptions, Http};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request the recorder saw.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    pub fn query(&self) -> Vec<(String, String)> {
        let q = self
            .target
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or_default();
        url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: String::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A recording server: answers each request with the next scripted reply (404 when the
/// script runs out) and records what it received. One request per connection.
pub struct Recorder {
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Recorder {
    pub async fn start(replies: Vec<Reply>) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        tokio::spawn(async move {
            let mut replies = replies.into_iter();
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let Some(req) = read_request(&mut sock).await else {
                    continue;
                };
                seen.lock().expect("lock").push(req);
                let reply = replies.next().unwrap_or_else(|| Reply::json(404, "{}"));
                let mut out = format!(
                    "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                    reply.status,
                    reply.body.len()
                );
                for (k, v) in &reply.headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                out.push_str(&reply.body);
                let _ = sock.write_all(out.as_bytes()).await;
                let _ = sock.shutdown().await;
            }
        });
        Recorder {
            url: format!("http://{addr}"),
            requests,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Recorded {
        method,
        target,
        headers,
        body,
    })
}

/// A client for 127.0.0.1 with short retry waits.
pub fn quick_http() -> Http {
    let mut http = Http::guarded(&ClientOptions::new(true)).expect("client");
    http.retry.base = Duration::from_millis(5);
    http
}

/// A self-signed client certificate and its PKCS#8 key, as PEM (not trusted by anyone).
pub fn rogue_client_cert() -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "not-issued-by-adp");
    let cert = params.self_signed(&key).expect("cert");
    (cert.pem(), key.serialize_pem())
}

/// The ADP `worker.terminate` notification (official WFN sample
/// `worker.terminate-event-notification-http-200-response.json` under
/// `wfn/hr/worker-terminate/event-notifications/` in ADP's adpllc/marketplace-sample-payloads
/// repository on GitHub).
pub const ADP_TERMINATE_SAMPLE: &str = r#"{"events":[{"eventID":"f0be1d5b-1077-4f2f-ade9-e95a62165131",
  "serviceCategoryCode":{"codeValue":"HR"},"eventNameCode":{"codeValue":"worker.terminate"},
  "eventReasonCode":{"codeValue":"D","shortName":"Attendance"},
  "eventStatusCode":{"codeValue":"COMPLETED","shortName":"Completed"},
  "recordDateTime":"2019-05-31T11:51:23.122+0000","creationDateTime":"2019-05-31T11:51:23.122+0000",
  "effectiveDateTime":"2019-05-27T04:00:00.000+0000",
  "originator":{"associateOID":"G3E82PE9GT1QM4MP"},"actor":{"associateOID":"G3E82PE9GT1QM4MP"},
  "data":{"eventContext":{"worker":{"associateOID":"G3KXNKXW8VT5Q5M0"}},
          "output":{"worker":{"associateOID":"G3KXNKXW8VT5Q5M0","workerID":{"idValue":"GN4IKM9XR"},
             "workerDates":{"originalHireDate":"2019-05-20","terminationDate":"2019-05-27"},
             "workerStatus":{"statusCode":{"codeValue":"T","shortName":"Terminated"},
                             "effectiveDate":"2019-05-27"}}}},"links":[]}]}"#;

/// ADP RUN's `worker.terminate-date.change` sample (adpllc/marketplace-sample-payloads): the
/// new date sits under `data.transform`.
pub const ADP_TERMINATE_DATE_CHANGE_SAMPLE: &str = r#"{"events":[{"eventID":"123",
  "serviceCategoryCode":{"codeValue":"hr"},"eventNameCode":{"codeValue":"worker.terminate-date.change"},
  "eventStatusCode":{"codeValue":"completed"},
  "recordDateTime":"2014-01-01T00:00:00Z","creationDateTime":"2014-01-01T00:00:00Z",
  "effectiveDateTime":"2014-01-01T00:00:00Z",
  "originator":{"associateOID":"G4O73G9Z62SL2NFM"},"actor":{"associateOID":"G4O73G9Z62SL2NFM"},
  "data":{"eventContext":{"worker":{"associateOID":"G4O73G9Z62SL2NFM"}},
          "transform":{"effectiveDateTime":"2014-01-01T00:00:00Z",
                       "worker":{"workerDates":{"terminationDate":"2014-01-15"}}}}}]}"#;

/// The BambooHR event-based sample
/// (<https://documentation.bamboohr.com/docs/event-based-webhooks>).
pub const BAMBOO_EVENT_SAMPLE: &str = r#"{"type":"employee.updated","timestamp":"2026-01-31T18:42:00+0000",
 "data":{"companyId":"12345","employeeId":"67890","changedFields":["status"]}}"#;

/// The BambooHR field-based (legacy) sample (<https://documentation.bamboohr.com/docs/webhooks>),
/// with a timestamp filled in.
pub const BAMBOO_FIELDS_SAMPLE: &str = r#"{"employees":[{"id":5,"action":"Updated","timestamp":"2026-01-31T18:42:00+0000",
 "changedFields":["jobTitle"],"fields":{"workEmail":{"value":"Jane.Doe@Example.com"}}}]}"#;

/// A typical row of a Workday RaaS termination report, with customer-chosen column names
/// (illustrative: Workday's own documentation needs a customer login).
pub const WORKDAY_SAMPLE: &str = r#"{"Report_Entry":[{"Employee_ID":"21004","Worker":"Jane Doe","Email_-_Work":"jdoe@example.com",
  "Termination_Date":"2026-03-31","Last_Day_of_Work":"2026-03-28",
  "Primary_Termination_Reason":"Resignation","Business_Process_Event_WID":"9f1c..."}]}"#;
