//! The state table: the latest event per (type, resource address).
//!
//! It is bounded twice, in entries and in bytes, so that an emitter inventing
//! resource addresses or padding its values cannot grow the broker without
//! bound; and it keeps an index by sequence number, so that a state query is
//! answered in pages after a cursor: a reply never outgrows what a client
//! reads, however full the table is.
//!
//! Admission is one rule: a write that adds an entry or makes one larger is
//! taken only if the totals after it stay within the origin's limits — the
//! configured limits for upstream events, 7/8 of them for synthetic ones. A
//! write that does not grow its entry is always taken. So a local emitter
//! that fills the table leaves room for the upstream's resources, and a
//! known resource's new state (LOCKED to HOLDOVER) is never refused.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use catalog::EventType;
use proto::query::Selector;
use proto::{Event, Origin};

/// Default for `state.max_entries`.
pub const DEFAULT_MAX_ENTRIES: usize = 65_536;
/// Default for `state.max_bytes`.
pub const DEFAULT_MAX_BYTES: usize = 64 << 20;
/// What an entry costs besides its encoded size: the map and index nodes,
/// the key (stored twice), and the event's own allocations. Measured: see
/// docs/RELIABILITY.md.
pub const ENTRY_OVERHEAD: usize = 768;

/// A row's key.
pub type Key = (EventType, String);

/// The table's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most entries.
    pub max_entries: usize,
    /// Most bytes, counted by [`cost`].
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: DEFAULT_MAX_ENTRIES,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

impl Limits {
    /// The limits a write of `origin` must stay within.
    fn for_origin(self, origin: Origin) -> Limits {
        match origin {
            Origin::Upstream => self,
            _ => Limits {
                max_entries: self.max_entries / 8 * 7,
                max_bytes: self.max_bytes / 8 * 7,
            },
        }
    }
}

/// Why a write was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Full {
    /// Too many entries for a new one.
    #[error(
        "state table full ({max} type/resource pairs for {origin} events); new resource {resource:?} refused"
    )]
    Entries {
        /// The limit that applied.
        max: usize,
        /// The origin whose limit it is.
        origin: Origin,
        /// The resource refused.
        resource: String,
    },
    /// Too many bytes for a new or larger entry.
    #[error("state table full ({max} bytes for {origin} events); {resource:?} refused")]
    Bytes {
        /// The limit that applied.
        max: usize,
        /// The origin whose limit it is.
        origin: Origin,
        /// The resource refused.
        resource: String,
    },
}

/// One row.
#[derive(Debug)]
pub struct Entry {
    /// The latest event.
    pub event: Event,
    /// When this broker accepted it: seeding compares arrival, never the
    /// producer's `time`, which a wrong clock or a forger could set anywhere.
    pub received: Instant,
    /// Its encoded body size.
    size: usize,
}

/// One page of a state query.
#[derive(Debug, Default)]
pub struct Page {
    /// Selected events with seq above the cursor, by seq.
    pub events: Vec<Event>,
    /// More selected events follow the last one.
    pub more: bool,
}

/// The table.
#[derive(Debug, Default)]
pub struct Table {
    limits: Limits,
    latest: HashMap<Key, Entry>,
    /// Every entry's key by its event's seq.
    by_seq: BTreeMap<u64, Key>,
    /// Sum of every entry's [`cost`].
    bytes: usize,
    /// Types with at least one entry (entries are never removed).
    types: HashSet<EventType>,
}

/// What an entry of `key` with an encoded body of `size` bytes is charged.
pub fn cost(key: &Key, size: usize) -> usize {
    size + 2 * (key.0.as_str().len() + key.1.len()) + ENTRY_OVERHEAD
}

impl Table {
    /// An empty table with these bounds.
    pub fn new(limits: Limits) -> Table {
        Table {
            limits,
            ..Table::default()
        }
    }

    /// The row for `key`.
    pub fn get(&self, key: &Key) -> Option<&Entry> {
        self.latest.get(key)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.latest.len()
    }

    /// Is the table empty?
    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    /// Bytes charged.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Does the table hold any entry of `event_type`?
    pub fn has_type(&self, event_type: &EventType) -> bool {
        self.types.contains(event_type)
    }

    /// Would writing all of `rows` (key, encoded body size), in order, be
    /// admitted for `origin`? Checked before anything changes, so a batch
    /// is taken whole or not at all.
    pub fn admit<'a>(
        &self,
        rows: impl IntoIterator<Item = (&'a Key, usize)>,
        origin: Origin,
    ) -> Result<(), Full> {
        let limits = self.limits.for_origin(origin);
        let mut entries = self.latest.len();
        let mut bytes = self.bytes;
        // Within a batch a key may come twice: the later write is measured
        // against the earlier one.
        let mut pending: HashMap<&Key, usize> = HashMap::new();
        for (key, size) in rows {
            let new = cost(key, size);
            let old = pending
                .get(key)
                .copied()
                .or_else(|| self.latest.get(key).map(|e| cost(key, e.size)));
            match old {
                None => {
                    entries += 1;
                    if entries > limits.max_entries {
                        return Err(Full::Entries {
                            max: limits.max_entries,
                            origin,
                            resource: key.1.clone(),
                        });
                    }
                    bytes += new;
                }
                Some(old) if new <= old => {
                    bytes -= old - new;
                }
                Some(old) => bytes += new - old,
            }
            let grows = old.is_none_or(|old| new > old);
            if grows && bytes > limits.max_bytes {
                return Err(Full::Bytes {
                    max: limits.max_bytes,
                    origin,
                    resource: key.1.clone(),
                });
            }
            pending.insert(key, new);
        }
        Ok(())
    }

    /// Store `event` (already stamped, encoded body `size` bytes) as the
    /// latest of `key`. Call [`Table::admit`] first.
    pub fn insert(&mut self, key: Key, event: Event, size: usize, received: Instant) {
        let seq = event.meta.seq;
        let charge = cost(&key, size);
        if let Some(old) = self.latest.get(&key) {
            self.by_seq.remove(&old.event.meta.seq);
            self.bytes -= cost(&key, old.size);
        } else {
            self.types.insert(key.0.clone());
        }
        self.bytes += charge;
        self.by_seq.insert(seq, key.clone());
        self.latest.insert(
            key,
            Entry {
                event,
                received,
                size,
            },
        );
    }

    /// The selected events with seq above `after`, by seq, until their
    /// encoded sizes reach `budget` bytes (at least one event, if any).
    pub fn page(&self, selector: &Selector, after: u64, budget: usize) -> Page {
        let mut page = Page::default();
        let mut used = 0;
        let selected = self
            .by_seq
            .range(after.saturating_add(1)..)
            .filter(|(_, key)| selector.matches(&key.0))
            .filter_map(|(_, key)| self.latest.get(key));
        for entry in selected {
            if used >= budget && !page.events.is_empty() {
                page.more = true;
                break;
            }
            used += entry.size;
            page.events.push(entry.event.clone());
        }
        page
    }

    /// Visit every row, in seq order.
    pub fn each(&self, mut visit: impl FnMut(&Entry)) {
        for key in self.by_seq.values() {
            if let Some(entry) = self.latest.get(key) {
                visit(entry);
            }
        }
    }

    /// Every latest event `keep` takes, in seq order.
    pub fn matching(&self, keep: impl Fn(&Event) -> bool) -> Vec<Event> {
        self.by_seq
            .values()
            .filter_map(|key| self.latest.get(key))
            .filter(|entry| keep(&entry.event))
            .map(|entry| entry.event.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests;
