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

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use catalog::EventType;
use proto::query::Selector;
use proto::{Event, Origin};

use crate::core::wire::Wire;

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
    /// The latest event, as it was published: the table keeps the bytes,
    /// and decodes them when a reader asks ([`Entry::event`]).
    wire: Wire,
    /// Its sequence number.
    seq: u64,
    /// When this broker accepted it: seeding compares arrival, never the
    /// producer's `time`, which a wrong clock or a forger could set anywhere.
    pub received: Instant,
}

impl Entry {
    /// The latest event. `None` only if the broker's own encoding did not
    /// decode, which would be a bug: it is logged.
    pub fn event(&self) -> Option<Event> {
        self.wire.event()
    }

    /// The latest event's sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Its encoded body size.
    fn size(&self) -> usize {
        self.wire.body().len()
    }
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
    /// The rows by type, then resource address: looked up with borrowed
    /// strings, so a known row's update allocates no key.
    latest: HashMap<EventType, HashMap<String, Entry>>,
    /// Every entry's key by its event's seq.
    by_seq: BTreeMap<u64, Key>,
    /// Entries held.
    entries: usize,
    /// Sum of every entry's [`cost`].
    bytes: usize,
}

/// What an entry of `event_type` and `resource` with an encoded body of
/// `size` bytes is charged.
pub fn cost(event_type: &EventType, resource: &str, size: usize) -> usize {
    size + 2 * (event_type.as_str().len() + resource.len()) + ENTRY_OVERHEAD
}

impl Table {
    /// An empty table with these bounds.
    pub fn new(limits: Limits) -> Table {
        Table {
            limits,
            ..Table::default()
        }
    }

    /// The row of (`event_type`, `resource`).
    pub fn get(&self, event_type: &EventType, resource: &str) -> Option<&Entry> {
        self.latest.get(event_type)?.get(resource)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Is the table empty?
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Bytes charged.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Does the table hold any entry of `event_type`?
    pub fn has_type(&self, event_type: &EventType) -> bool {
        self.latest.contains_key(event_type)
    }

    /// Would writing all of `rows` (type, resource, encoded body size), in
    /// order, be admitted for `origin`? Checked before anything changes, so
    /// a batch is taken whole or not at all.
    pub fn admit<'a>(
        &self,
        rows: impl IntoIterator<Item = (&'a EventType, &'a str, usize)>,
        origin: Origin,
    ) -> Result<(), Full> {
        let limits = self.limits.for_origin(origin);
        let mut entries = self.entries;
        let mut bytes = self.bytes;
        // Within a batch a key may come twice: the later write is measured
        // against the earlier one. (A single row needs no such map.)
        let mut pending: HashMap<(&EventType, &str), usize> = HashMap::new();
        let mut rows = rows.into_iter().peekable();
        while let Some((event_type, resource, size)) = rows.next() {
            let new = cost(event_type, resource, size);
            let old = pending.get(&(event_type, resource)).copied().or_else(|| {
                self.get(event_type, resource)
                    .map(|e| cost(event_type, resource, e.size()))
            });
            let full = |bytes_full: bool| match bytes_full {
                false => Full::Entries {
                    max: limits.max_entries,
                    origin,
                    resource: resource.to_owned(),
                },
                true => Full::Bytes {
                    max: limits.max_bytes,
                    origin,
                    resource: resource.to_owned(),
                },
            };
            match old {
                None => {
                    entries += 1;
                    if entries > limits.max_entries {
                        return Err(full(false));
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
                return Err(full(true));
            }
            if rows.peek().is_some() {
                pending.insert((event_type, resource), new);
            }
        }
        Ok(())
    }

    /// Store `wire` (the event of `seq`, encoded and stamped) as the latest
    /// of (`event_type`, `resource`). Call [`Table::admit`] first.
    pub fn insert(
        &mut self,
        event_type: &EventType,
        resource: &str,
        wire: Wire,
        seq: u64,
        received: Instant,
    ) {
        let charge = cost(event_type, resource, wire.body().len());
        let row = self
            .latest
            .get_mut(event_type)
            .and_then(|rows| rows.get_mut(resource));
        match row {
            Some(entry) => {
                self.bytes -= cost(event_type, resource, entry.size());
                let key = self
                    .by_seq
                    .remove(&entry.seq)
                    .unwrap_or_else(|| (event_type.clone(), resource.to_owned()));
                self.by_seq.insert(seq, key);
                *entry = Entry {
                    wire,
                    seq,
                    received,
                };
            }
            None => {
                self.entries += 1;
                self.by_seq
                    .insert(seq, (event_type.clone(), resource.to_owned()));
                self.latest.entry(event_type.clone()).or_default().insert(
                    resource.to_owned(),
                    Entry {
                        wire,
                        seq,
                        received,
                    },
                );
            }
        }
        self.bytes += charge;
    }

    /// The rows in seq order.
    fn in_seq_order(&self) -> impl Iterator<Item = (&Key, &Entry)> {
        self.by_seq
            .values()
            .filter_map(|key| Some((key, self.get(&key.0, &key.1)?)))
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
            .filter_map(|(_, key)| self.get(&key.0, &key.1));
        for entry in selected {
            if used >= budget && !page.events.is_empty() {
                page.more = true;
                break;
            }
            used += entry.size();
            page.events.extend(entry.event());
        }
        page
    }

    /// Visit every row, in seq order.
    pub fn each(&self, mut visit: impl FnMut(&Entry)) {
        for (_, entry) in self.in_seq_order() {
            visit(entry);
        }
    }

    /// Every latest event of a (type, resource) `keep` takes, in seq order.
    pub fn matching(&self, keep: impl Fn(&EventType, &str) -> bool) -> Vec<Event> {
        self.in_seq_order()
            .filter(|((event_type, resource), _)| keep(event_type, resource))
            .filter_map(|(_, entry)| entry.event())
            .collect()
    }
}

#[cfg(test)]
mod tests;
