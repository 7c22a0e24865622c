//! The HTTP servers strangers reach: they stop when asked even while a client holds a
//! connection open, drop clients that never finish their headers, answer within their time and
//! concurrency bounds, and mark every response `nosniff`.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, routing::get};
use tandem_runtime::{
    Shutdown,
    http::{self, Limits},
};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

const WHOLE_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";

/// A connection to `address` on which `bytes` were sent.
async fn send(address: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut connection = TcpStream::connect(address).await.expect("connect");
    connection.write_all(bytes).await.expect("send");
    connection
}

/// The whole response to `connection`'s request.
async fn response(mut connection: TcpStream) -> String {
    let mut response = String::new();
    connection
        .read_to_string(&mut response)
        .await
        .expect("response");
    response
}

/// `app` served with `limits` on a free port, until the returned shutdown.
async fn start(app: Router, limits: Limits) -> (SocketAddr, Shutdown) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("bound address");
    let shutdown = Shutdown::new();
    tokio::spawn(http::serve_with(listener, app, limits, shutdown.clone()));
    (address, shutdown)
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected_while_others_are_served() {
    let limits = Limits {
        header_read: Duration::from_millis(500),
        ..Limits::default()
    };
    let app = Router::new().route("/", get(|| async { "served" }));
    let (address, _shutdown) = start(app, limits).await;

    let mut stalled = send(address, b"GET / HTTP/1.1\r\nhost: x\r\n").await;
    let served = response(send(address, WHOLE_REQUEST).await).await;
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    assert!(served.ends_with("served"), "{served}");

    // The server closes the stalled connection: the read ends (with nothing, or hyper's 408)
    // instead of waiting for ever.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), stalled.read_to_end(&mut rest))
        .await
        .expect("the stalled connection was closed by the header timeout");
    assert!(closed.is_err() || !String::from_utf8_lossy(&rest).contains(" 200 "));
    // And the server goes on serving.
    let served = response(send(address, WHOLE_REQUEST).await).await;
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
}

#[tokio::test]
async fn every_response_is_nosniff_even_a_missing_route() {
    let app = Router::new().route("/", get(|| async { "<html>served" }));
    let (address, _shutdown) = start(app, Limits::default()).await;
    for request in [
        WHOLE_REQUEST,
        b"GET /nowhere HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    ] {
        let answer = response(send(address, request).await).await;
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("\r\nx-content-type-options: nosniff\r\n"),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn a_request_beyond_the_concurrency_limit_is_refused_at_once_and_a_slow_one_times_out() {
    let limits = Limits {
        request: Duration::from_millis(300),
        concurrent_requests: 1,
        ..Limits::default()
    };
    // `/hold` is answered once the test releases it; `/` at once.
    let release = Arc::new(tokio::sync::Notify::new());
    let held = release.clone();
    let app = Router::new().route("/", get(|| async { "served" })).route(
        "/hold",
        get(move || {
            let held = held.clone();
            async move {
                held.notified().await;
                "released"
            }
        }),
    );
    let (address, _shutdown) = start(app, limits).await;

    let holding = tokio::spawn(response(
        send(
            address,
            b"GET /hold HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
        .await,
    ));
    // Until the held request has its permit, `/` may still get it: ask until it is refused.
    let refused = loop {
        let answer = response(send(address, WHOLE_REQUEST).await).await;
        if !answer.starts_with("HTTP/1.1 200") {
            break answer;
        }
        tokio::task::yield_now().await;
    };
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(
        refused.to_ascii_lowercase().contains("retry-after: 1"),
        "{refused}"
    );

    // Nobody releases it: the request timeout (300 ms) answers instead, and frees the permit.
    let timed_out = tokio::time::timeout(Duration::from_secs(5), holding)
        .await
        .expect("the request timeout answers the held request")
        .expect("held request");
    assert!(timed_out.starts_with("HTTP/1.1 503"), "{timed_out}");
    let served = response(send(address, WHOLE_REQUEST).await).await;
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    release.notify_waiters();
}

#[tokio::test]
async fn a_server_stops_within_the_drain_while_a_request_never_finishes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("bound address");
    let shutdown = Shutdown::new();
    let app = Router::new().route("/", get(|| async { "served" }));
    let server = tokio::spawn(http::serve(listener, app, shutdown.clone()));

    let served = response(send(address, WHOLE_REQUEST).await).await;
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    assert!(served.ends_with("served"), "{served}");

    // A client that starts a request and never finishes its headers: a graceful shutdown alone
    // would wait for it for ever.
    let _stalled = send(address, b"GET / HTTP/1.1\r\nhost: x\r\n").await;
    // Connections are accepted in order, so once a later one is answered, the server holds
    // the stalled one as a request under way.
    response(send(address, WHOLE_REQUEST).await).await;

    shutdown.trigger();
    let stopped = tokio::time::timeout(http::DRAIN + Duration::from_secs(5), server)
        .await
        .expect("the server stopped within the drain");
    stopped.expect("server task").expect("server ran cleanly");
}
