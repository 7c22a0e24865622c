//! The HTTP servers stop when asked, even while a client holds a connection open.

use std::{net::SocketAddr, time::Duration};

use axum::{Router, routing::get};
use tandem_runtime::{Shutdown, http};
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
