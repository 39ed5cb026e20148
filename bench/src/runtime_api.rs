//! A minimal Lambda Runtime API emulator: enough of `/2018-06-01/runtime/...` for a function
//! binary to start, fetch invocations and post their results, with the time of each call.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{Notify, mpsc};

/// What the function did, with times.
#[derive(Debug, Default, Clone)]
pub struct Observed {
    pub first_next: Option<Instant>,
    pub responses: Vec<(Instant, String, String)>,
    pub errors: Vec<(Instant, String)>,
}

#[derive(Clone)]
struct Emu {
    events: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, String)>>>,
    observed: Arc<Mutex<Observed>>,
    notify: Arc<Notify>,
}

pub struct RuntimeApi {
    pub addr: std::net::SocketAddr,
    tx: mpsc::UnboundedSender<(String, String)>,
    observed: Arc<Mutex<Observed>>,
    notify: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start() -> anyhow::Result<RuntimeApi> {
        let (tx, rx) = mpsc::unbounded_channel();
        let observed = Arc::new(Mutex::new(Observed::default()));
        let notify = Arc::new(Notify::new());
        let emu = Emu {
            events: Arc::new(tokio::sync::Mutex::new(rx)),
            observed: observed.clone(),
            notify: notify.clone(),
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(emu);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(RuntimeApi {
            addr,
            tx,
            observed,
            notify,
            task,
        })
    }

    /// Queue an invocation (request id, event JSON).
    pub fn invoke(&self, id: &str, event: &serde_json::Value) {
        let _ = self.tx.send((id.to_string(), event.to_string()));
    }

    pub fn observed(&self) -> Observed {
        self.observed.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// Wait until `n` results (responses or errors) were posted, or the timeout.
    pub async fn wait_results(&self, n: usize, timeout: std::time::Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            let o = self.observed();
            if o.responses.len() + o.errors.len() >= n {
                return true;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let _ = tokio::time::timeout(left, self.notify.notified()).await;
        }
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

async fn next(State(emu): State<Emu>) -> Response {
    {
        let mut o = emu.observed.lock().unwrap_or_else(|e| e.into_inner());
        o.first_next.get_or_insert_with(Instant::now);
    }
    let next = emu.events.lock().await.recv().await;
    let Some((id, body)) = next else {
        return StatusCode::GONE.into_response();
    };
    let deadline = riskflow::clock::now_ms() + 900_000;
    let mut h = HeaderMap::new();
    let put = |h: &mut HeaderMap, k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    put(&mut h, "lambda-runtime-aws-request-id", id);
    put(&mut h, "lambda-runtime-deadline-ms", deadline.to_string());
    put(
        &mut h,
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:bench".into(),
    );
    put(
        &mut h,
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000".into(),
    );
    put(&mut h, "content-type", "application/json".into());
    (StatusCode::OK, h, body).into_response()
}

async fn response(State(emu): State<Emu>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    if let Ok(mut o) = emu.observed.lock() {
        o.responses.push((
            Instant::now(),
            id,
            String::from_utf8_lossy(&body).into_owned(),
        ));
    }
    emu.notify.notify_waiters();
    StatusCode::ACCEPTED
}

async fn error(State(emu): State<Emu>, Path(_id): Path<String>, body: Bytes) -> StatusCode {
    if let Ok(mut o) = emu.observed.lock() {
        o.errors
            .push((Instant::now(), String::from_utf8_lossy(&body).into_owned()));
    }
    emu.notify.notify_waiters();
    StatusCode::ACCEPTED
}

async fn init_error(State(emu): State<Emu>, body: Bytes) -> StatusCode {
    if let Ok(mut o) = emu.observed.lock() {
        o.errors.push((
            Instant::now(),
            format!("init: {}", String::from_utf8_lossy(&body)),
        ));
    }
    emu.notify.notify_waiters();
    StatusCode::ACCEPTED
}
