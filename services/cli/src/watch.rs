//! `tandem watch`: every event on `tandem.>` as it happens, one line each.

use async_nats::Client;
use futures::StreamExt as _;

use crate::render;

pub async fn run(client: &Client) -> anyhow::Result<()> {
    let mut events = client.subscribe("tandem.>").await?;
    // Once this is printed, the server knows the subscription: nothing after it is missed.
    client.flush().await?;
    eprintln!("watching tandem.> (Ctrl-C to stop)");
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            message = events.next() => {
                let Some(message) = message else { return Ok(()) };
                if let Some(line) = render::event(&message.subject, message.headers.as_ref(), &message.payload) {
                    println!("{} {line}", clock());
                }
            }
        }
    }
}

/// The time of day, UTC, for the start of each line.
fn clock() -> String {
    let now = tandem_runtime::envelope::now_rfc3339();
    now.get(11..19).unwrap_or(&now).to_string()
}
