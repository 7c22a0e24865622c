//! Serving HTTP until shutdown, with a bound on how long the last connections may take.
//!
//! axum's graceful shutdown waits for every open connection to finish. A client can hold one
//! open for as long as it likes: a keep-alive connection that hyper does not see go idle, a
//! request whose headers never complete, a slow download. A service that waited for them would
//! never stop, so after [`DRAIN`] the server is left behind and the process goes on to exit;
//! the runtime drops the connections still open. (This is what hyper's maintainers advise: start
//! a timer for an abrupt stop after asking for a graceful one.)

use std::time::Duration;

use axum::Router;

use crate::Shutdown;

/// How long requests in flight may still take once a stop is asked for.
pub const DRAIN: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown`, then finishes the requests in flight for at
/// most [`DRAIN`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let signal = shutdown.clone();
    let server =
        axum::serve(listener, app).with_graceful_shutdown(async move { signal.triggered().await });
    tokio::select! {
        served = server => served,
        () = async {
            shutdown.triggered().await;
            tokio::time::sleep(DRAIN).await;
        } => {
            tracing::warn!(
                drain_secs = DRAIN.as_secs(),
                "HTTP connections still open after the drain; leaving them to close with the process"
            );
            Ok(())
        }
    }
}
