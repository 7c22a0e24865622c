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
                if let Some(line) = render::event(crate::lang(), &message.subject, message.headers.as_ref(), &message.payload) {
                    println!("{} {line}", clock());
                }
            }
        }
    }
}

/// The time of day for the start of each line, in the reader's zone ([`render::zone`]).
fn clock() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    tandem_i18n::local_clock(i64::try_from(now).unwrap_or(i64::MAX), &render::zone())
}
