//! The table's bounds and paging, with properties over random histories.
use super::*;
use proptest::prelude::*;
use proto::Content;

fn key(r: u8) -> Key {
    (
        EventType::new("com.example.t").unwrap(),
        format!("/r/{r:03}"),
    )
}

fn event(r: u8, seq: u64) -> Event {
    let mut e = Event::synthetic(
        EventType::new("com.example.t").unwrap(),
        Content::parse("1", Some(format!("/r/{r:03}"))).unwrap(),
    );
    e.meta.seq = seq;
    e
}

#[test]
fn bytes_bound_new_and_growing_entries_but_never_a_shrinking_update() {
    let limits = Limits {
        max_entries: 1000,
        max_bytes: 8 * 1024,
    };
    let mut t = Table::new(limits);
    let k = |i| key(i);
    // Synthetic gets 7/8 of 8 KiB = 7 KiB: entries of 1 KiB each.
    let size = 1024 - cost(&k(0), 0);
    let mut seq = 0;
    let mut taken = 0;
    for i in 0..10u8 {
        if t.admit([(&k(i), size)], Origin::Synthetic).is_ok() {
            seq += 1;
            t.insert(k(i), event(i, seq), size, Instant::now());
            taken += 1;
        }
    }
    assert_eq!(taken, 7);
    assert!(t.bytes() <= 7 * 1024);
    // Growing a known entry past the limit is refused, keeping it is not.
    assert!(matches!(
        t.admit([(&k(0), size + 200)], Origin::Synthetic),
        Err(Full::Bytes { .. })
    ));
    assert_eq!(t.admit([(&k(0), size)], Origin::Synthetic), Ok(()));
    assert_eq!(t.admit([(&k(0), 1)], Origin::Synthetic), Ok(()));
    // The upstream has the last 1/8.
    assert_eq!(t.admit([(&k(100), size)], Origin::Upstream), Ok(()));
    assert!(
        t.admit([(&k(100), size), (&k(101), size)], Origin::Upstream)
            .is_err()
    );
}

#[test]
fn a_batch_is_measured_whole() {
    let mut t = Table::new(Limits {
        max_entries: 16,
        max_bytes: 1 << 20,
    });
    t.insert(key(0), event(0, 1), 10, Instant::now());
    // 14 synthetic entries allowed (7/8 of 16): 1 held + 13 new fit, 14 not.
    let keys: Vec<Key> = (1..=14).map(key).collect();
    assert!(
        t.admit(keys[..13].iter().map(|k| (k, 10)), Origin::Synthetic)
            .is_ok()
    );
    assert!(matches!(
        t.admit(keys.iter().map(|k| (k, 10)), Origin::Synthetic),
        Err(Full::Entries { max: 14, .. })
    ));
    // The same key twice in a batch is one entry.
    let twice = [(&keys[0], 10), (&keys[0], 10)];
    assert!(t.admit(twice, Origin::Synthetic).is_ok());
}

#[test]
fn a_page_holds_at_least_one_event_and_says_when_more_follow() {
    let mut t = Table::new(Limits::default());
    for i in 0..5u8 {
        t.insert(key(i), event(i, u64::from(i) + 1), 100, Instant::now());
    }
    let all = Selector::new(&[], "").unwrap();
    let p = t.page(&all, 0, 1);
    assert_eq!((p.events.len(), p.more), (1, true));
    let p = t.page(&all, 0, 250);
    assert_eq!((p.events.len(), p.more), (3, true));
    let p = t.page(&all, 3, 10_000);
    assert_eq!((p.events.len(), p.more), (2, false));
    let none = Selector::new(&["OS_CLOCK_SYNC".into()], "").unwrap();
    let p = t.page(&none, 0, 1);
    assert_eq!((p.events.len(), p.more), (0, false));
}

/// One step of a random history.
#[derive(Debug, Clone)]
enum Step {
    /// Write resource `r` with an encoded size.
    Write(u8, usize),
    /// Read the next page of the read in progress.
    Page,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            3 => (0u8..40, 1usize..400).prop_map(|(r, s)| Step::Write(r, s)),
            1 => Just(Step::Page),
        ],
        1..200,
    )
}

proptest! {
    /// However the table changes between pages, the pages of one read,
    /// keeping the highest seq per key, are the table as of the last page.
    #[test]
    fn pages_add_up_to_the_table_as_of_the_last_page(history in steps(), budget in 1usize..2000) {
        let mut t = Table::new(Limits::default());
        let all = Selector::new(&[], "").unwrap();
        let mut seq = 0;
        let mut read: HashMap<Key, u64> = HashMap::new();
        let mut after = 0;
        let run = |t: &mut Table, seq: &mut u64, r: u8, size: usize| {
            *seq += 1;
            t.insert(key(r), event(r, *seq), size, Instant::now());
        };
        for step in history {
            match step {
                Step::Write(r, size) => run(&mut t, &mut seq, r, size),
                Step::Page => {
                    let p = t.page(&all, after, budget);
                    for e in &p.events {
                        prop_assert!(e.meta.seq > after);
                        let k = (e.event_type.clone(), e.resource_address().to_owned());
                        let held = read.entry(k).or_default();
                        *held = (*held).max(e.meta.seq);
                    }
                    after = p.events.last().map_or(after, |e| e.meta.seq);
                }
            }
        }
        // Finish the read with no more writes.
        loop {
            let p = t.page(&all, after, budget);
            for e in &p.events {
                let k = (e.event_type.clone(), e.resource_address().to_owned());
                let held = read.entry(k).or_default();
                *held = (*held).max(e.meta.seq);
            }
            after = p.events.last().map_or(after, |e| e.meta.seq);
            if !p.more {
                break;
            }
        }
        let table: HashMap<Key, u64> = t
            .latest
            .iter()
            .map(|(k, e)| (k.clone(), e.event.meta.seq))
            .collect();
        prop_assert_eq!(read, table);
        // The index and the byte count agree with the rows.
        prop_assert_eq!(t.by_seq.len(), t.latest.len());
        let bytes: usize = t.latest.iter().map(|(k, e)| cost(k, e.size)).sum();
        prop_assert_eq!(t.bytes(), bytes);
    }

    /// Admission keeps both bounds for any history of writes.
    #[test]
    fn admitted_writes_never_pass_the_bounds(
        writes in prop::collection::vec((0u8..60, 1usize..3000, any::<bool>()), 1..300),
    ) {
        let limits = Limits { max_entries: 32, max_bytes: 48 * 1024 };
        let mut t = Table::new(limits);
        let mut seq = 0;
        for (r, size, upstream) in writes {
            let origin = if upstream { Origin::Upstream } else { Origin::Synthetic };
            let before = t.get(&key(r)).map(|e| cost(&key(r), e.size));
            match t.admit([(&key(r), size)], origin) {
                Ok(()) => {
                    seq += 1;
                    t.insert(key(r), event(r, seq), size, Instant::now());
                }
                Err(_) => {
                    // Only a new or growing entry is ever refused.
                    prop_assert!(before.is_none_or(|b| cost(&key(r), size) > b));
                }
            }
            prop_assert!(t.len() <= limits.max_entries);
            prop_assert!(t.bytes() <= limits.max_bytes);
        }
    }
}
