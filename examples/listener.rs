//! Listen to every O-RAN sync event on this node.
//!
//! ```text
//! cargo run --example listener
//! ```
//!
//! Registers one callback per catalog type with `client::register` (the
//! broker is found through PTP_BROKER_PUB / PTP_BROKER_QUERY or the
//! defaults), prints each event as it arrives — the current state first,
//! marked "(initial)"; after a broker restart, "UNKNOWN" for every resource
//! the new broker does not know yet — and prints every change of the link to
//! the broker.
//! Stop it with Ctrl-C.

use client::Status;
use proto::Event;

fn main() -> anyhow::Result<()> {
    client::on_status(|status| match status {
        Status::Lost { .. } => {
            eprintln!("listener: BROKER LOST - treat the clock state as unknown")
        }
        other => eprintln!("listener: {other}"),
    })?;
    for event_type in catalog::ALL {
        client::register(event_type, move |event: &Event| {
            println!("{:<26} {event}", event_type.name());
        })?;
    }
    eprintln!(
        "listener: registered for {} event types; Ctrl-C to stop",
        catalog::ALL.len()
    );
    // Callbacks run on the client's threads; this one has nothing else to do.
    loop {
        std::thread::park();
    }
}
