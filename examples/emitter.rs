//! Play a short clock story into the broker: LOCKED, HOLDOVER, FREERUN,
//! LOCKED again, with offsets and clock classes, the way a real PTP source
//! would report it.
//!
//! ```text
//! cargo run --example emitter            # once, 1 s between steps
//! cargo run --example emitter -- 200     # 200 ms between steps
//! ```
//!
//! Every `client::emit` returns the sequence number the broker gave the
//! event, or says why it was not accepted.

use std::time::Duration;

use catalog::SyncState;
use proto::Content;

fn main() -> anyhow::Result<()> {
    let pause = std::env::args()
        .nth(1)
        .map(|ms| ms.parse::<u64>())
        .transpose()?
        .map_or(Duration::from_secs(1), Duration::from_millis);
    let steps: [(SyncState, i64, &str); 4] = [
        (SyncState::Locked, -3, "6"),
        (SyncState::Holdover, 180, "7"),
        (SyncState::Freerun, 12_000, "248"),
        (SyncState::Locked, 2, "6"),
    ];
    for (state, offset, clock_class) in steps {
        let interface = "/cluster/node/example/ens1f0/master".to_owned();
        let ptp = Content::State {
            state,
            offset: Some(offset),
            resource: Some(interface.clone()),
        };
        let seq = client::emit(catalog::PTP_LOCK_STATE, ptp)?;
        println!("#{seq} PTP lock state {state} (offset {offset} ns)");
        let class = Content::parse(clock_class, Some(interface)).map_err(anyhow::Error::msg)?;
        let seq = client::emit(catalog::PTP_CLOCK_CLASS, class)?;
        println!("#{seq} PTP clock class {clock_class}");
        let os = Content::State {
            state,
            offset: Some(offset / 2),
            resource: Some("/cluster/node/example/CLOCK_REALTIME".to_owned()),
        };
        let seq = client::emit(catalog::OS_CLOCK_SYNC, os)?;
        println!("#{seq} OS clock {state}");
        let seq = client::emit(catalog::SYNC_STATE, state.into())?;
        println!("#{seq} overall sync state {state}");
        std::thread::sleep(pause);
    }
    Ok(())
}
