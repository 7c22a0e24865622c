//! Serving HTTP to strangers: every endpoint tandem serves (publish's API, notify's ack links,
//! `/metrics`) goes through [`serve`], so each gets the same bounds.
//!
//! - A client must send its request headers within [`Limits::header_read`] (hyper's
//!   `header_read_timeout`), or its connection is closed: a client that never finishes its
//!   headers cannot hold a connection for ever.
//! - A request is answered within [`Limits::request`] (tower-http's `TimeoutLayer`), else
//!   `503`.
//! - At most [`Limits::concurrent_requests`] requests are handled at once (tower's global
//!   concurrency limit behind load shedding): one more is answered `503` with `Retry-After` at
//!   once, rather than queued without bound.
//! - Every response carries `X-Content-Type-Options: nosniff`, so a browser never runs a body
//!   as something other than its declared type.
//!
//! On shutdown the server stops accepting and lets requests in flight finish, for at most
//! [`DRAIN`]: a client can hold a connection open for as long as it likes (a slow download), so
//! a service that waited for every connection might never stop. After the drain the process
//! goes on to exit and the runtime drops the connections still open (what hyper's maintainers
//! advise: a timer for an abrupt stop after asking for a graceful one).

use std::time::Duration;

use axum::{
    Extension, Router,
    error_handling::HandleErrorLayer,
    extract::ConnectInfo,
    http::{HeaderValue, StatusCode, header},
    response::IntoResponse,
};
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tower::{BoxError, Layer as _, ServiceBuilder, limit::GlobalConcurrencyLimitLayer};
use tower_http::{set_header::SetResponseHeaderLayer, timeout::TimeoutLayer};

use crate::Shutdown;

/// How long requests in flight may still take once a stop is asked for.
pub const DRAIN: Duration = Duration::from_secs(10);

/// The bounds every endpoint is served with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Time from a connection's start (or the end of its previous response) to the end of the
    /// next request's headers.
    pub header_read: Duration,
    /// Time to produce a response (its status and headers; a body may stream after).
    pub request: Duration,
    /// Requests handled at once by one server.
    pub concurrent_requests: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            request: Duration::from_secs(30),
            concurrent_requests: 256,
        }
    }
}

/// Serves `app` on `listener` with the default [`Limits`] until `shutdown`, then finishes the
/// requests in flight for at most [`DRAIN`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    serve_with(listener, app, Limits::default(), shutdown).await
}

/// [`serve`] with `limits`.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: Limits,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let app = bounded(app, &limits);
    let mut connections = http1::Builder::new();
    connections
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // the listener still works, so pause (the condition may last) and go on.
                    tracing::warn!(%error, "cannot accept an HTTP connection");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = shutdown.triggered() => break,
        };
        // The peer's address for handlers that extract `ConnectInfo<SocketAddr>` (notify's
        // inbox trusts an identity header only from its configured proxies).
        let app = Extension(ConnectInfo(peer)).layer(app.clone());
        let connection =
            connections.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // A client that went away or was too slow: nothing to do but note it.
                tracing::debug!(%error, "HTTP connection closed with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => {
            tracing::warn!(
                drain_secs = DRAIN.as_secs(),
                "HTTP connections still open after the drain; leaving them to close with the process"
            );
        }
    }
    Ok(())
}

/// `app` behind the request timeout, the concurrency limit and the response headers.
fn bounded(app: Router, limits: &Limits) -> Router {
    app.layer(
        ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::overriding(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            // Only load shedding fails here: every permit is taken.
            .layer(HandleErrorLayer::new(|_: BoxError| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, "1")],
                    "too many requests at once; try again shortly",
                )
                    .into_response()
            }))
            .load_shed()
            .layer(GlobalConcurrencyLimitLayer::new(limits.concurrent_requests))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                limits.request,
            )),
    )
}
