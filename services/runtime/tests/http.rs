//! The HTTP servers stop when asked, even while a client holds a connection open.

use std::time::Duration;

use axum::{Router, routing::get};
use tandem_runtime::{Shutdown, http};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[tokio::test]
async fn a_server_stops_within_the_drain_while_a_request_never_finishes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("bound address");
    let shutdown = Shutdown::new();
    let app = Router::new().route("/", get(|| async { "served" }));
    let server = tokio::spawn(http::serve(listener, app, shutdown.clone()));

    // A whole request is served.
    let mut whole = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    whole
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .expect("send");
    let mut response = String::new();
    whole.read_to_string(&mut response).await.expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("served"), "{response}");

    // A client that starts a request and never finishes its headers: a graceful shutdown alone
    // would wait for it for ever.
    let mut stalled = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stalled
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n")
        .await
        .expect("send");
    // Connections are accepted in order, so once a later one is answered, the server holds
    // this one as a request under way.
    let mut probe = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    probe
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .expect("send");
    probe
        .read_to_string(&mut String::new())
        .await
        .expect("response");

    shutdown.trigger();
    let stopped = tokio::time::timeout(http::DRAIN + Duration::from_secs(5), server)
        .await
        .expect("the server stopped within the drain");
    stopped.expect("server task").expect("server ran cleanly");
}
