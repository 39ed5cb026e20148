//! The connection loop behind every listener.
//!
//! axum's own `serve` gives a handler no way to close the TCP connection without answering,
//! which the "dropped connection" faults need. So the sandbox runs its own accept loop with
//! `hyper-util` (the same machinery `axum::serve` uses): every connection gets a
//! [`ConnKill`] switch in its request extensions. When the fault middleware pulls it, the
//! connection task stops polling the hyper connection and drops it, so the socket closes
//! with no status line sent (the client sees "connection closed before message completed"
//! or a reset). The handler future is dropped with it. On an HTTP/2 connection this drops
//! every stream in flight on it, as a real connection loss would.
//!
//! The same loop serves TLS (the ADP mutual-TLS listener) through `tokio-rustls`; a client
//! without a certificate signed by the sandbox CA fails the handshake.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::util::Scheme;

/// Per-connection switch: `kill()` closes the connection without an answer.
#[derive(Clone, Debug)]
pub(crate) struct ConnKill(Arc<Notify>);

impl ConnKill {
    pub(crate) fn kill(&self) {
        self.0.notify_one();
    }
}

/// Which system a listener serves when the path carries no prefix (the ADP TLS listener).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ForcedSystem(pub &'static str);

/// Spawn the accept loop. It ends when `shutdown` flips to true or its sender is dropped.
pub(crate) fn spawn_listener(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    forced: Option<ForcedSystem>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                r = listener.accept() => r,
                _ = shutdown.changed() => break,
            };
            let (stream, _peer) = match accepted {
                Ok(x) => x,
                Err(_) => {
                    // Out of file descriptors or similar: back off briefly.
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let router = router.clone();
            let tls = tls.clone();
            let mut sd = shutdown.clone();
            tokio::spawn(async move {
                match tls {
                    None => serve_io(stream, router, Scheme("http"), forced, sd).await,
                    Some(acceptor) => {
                        let tls_stream = tokio::select! {
                            r = acceptor.accept(stream) => match r {
                                Ok(s) => s,
                                Err(e) => {
                                    tracing::debug!("sandbox TLS handshake failed: {e}");
                                    return;
                                }
                            },
                            _ = sd.changed() => return,
                        };
                        serve_io(tls_stream, router, Scheme("https"), forced, sd).await
                    }
                }
            });
        }
    })
}

async fn serve_io<I>(
    io: I,
    router: Router,
    scheme: Scheme,
    forced: Option<ForcedSystem>,
    mut shutdown: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let kill = Arc::new(Notify::new());
    let kill_for_requests = ConnKill(kill.clone());
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(kill_for_requests.clone());
        req.extensions_mut().insert(scheme);
        if let Some(f) = forced {
            req.extensions_mut().insert(f);
        }
        let mut router = router.clone();
        async move {
            let resp: Result<axum::response::Response<Body>, Infallible> =
                tower::Service::call(&mut router, req).await;
            resp
        }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = kill.notified() => {}
        _ = shutdown.changed() => {}
    }
}
