//! Event identifiers shared by every part of ptp-broker.
//!
//! ```
//! use catalog::{EventType, SyncState};
//!
//! // The O-RAN events are constants that know their type string and resource.
//! assert_eq!(catalog::OS_CLOCK_SYNC.oran_type(), "event.sync.sync-status.os-clock-sync-state-change");
//! assert_eq!(catalog::OS_CLOCK_SYNC.resource(), "/sync/sync-status/os-clock-sync-state");
//!
//! // Lookup works from the constant name, the type string or the resource path.
//! assert_eq!(catalog::lookup("OS_CLOCK_SYNC"), Some(catalog::OS_CLOCK_SYNC));
//!
//! // Applications may add their own types, following the naming rule.
//! let mine = EventType::new("com.example.radio.carrier-state")?;
//! assert!(EventType::new("Not A Type").is_err());
//!
//! // States parse in any case and print in O-RAN all caps.
//! let s: SyncState = "Holdover".parse()?;
//! assert_eq!(s.to_string(), "HOLDOVER");
//! # let _ = mine;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Layout: [`oran`] holds the eight O-RAN event kinds and their lookup,
//! [`event_type`] the validated type name that travels as the ZeroMQ topic
//! (O-RAN, broker-internal or application-defined), and [`state`] the sync
//! state values with their "worst of" order.
#![deny(missing_docs)]

pub mod event_type;
pub mod oran;
pub mod state;

pub use event_type::{BROKER_NAMESPACE, EventType, EventTypeError, HEARTBEAT, MAX_TYPE_LEN};
pub use oran::{
    ALL, GNSS_SYNC_STATUS, OS_CLOCK_SYNC, OranEvent, PTP_CLOCK_CLASS, PTP_LOCK_STATE, SYNC_STATE,
    SYNCE_CLOCK_QUALITY, SYNCE_LOCK_STATE, SYNCE_LOCK_STATE_EXTENDED, lookup,
};
pub use state::{ParseStateError, SyncState};
