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

/// The message of resource `r`'s event of `seq`, its id `pad` bytes longer
/// than one.
fn wire(r: u8, seq: u64, pad: usize) -> Wire {
    let mut e = Event::synthetic(
        EventType::new("com.example.t").unwrap(),
        Content::parse("1", Some(format!("/r/{r:03}"))).unwrap(),
    );
    e.id = "i".repeat(pad + 1);
    e.meta.seq = seq;
    let frames = proto::frame::encode_event(&e).unwrap();
    Wire::new(&frames.topic, &frames.body)
}

/// [`wire`] with a body of exactly `size` bytes.
fn sized(r: u8, seq: u64, size: usize) -> Wire {
    (0..4 * size)
        .map(|pad| wire(r, seq, pad))
        .find(|w| w.body().len() == size)
        .expect("a pad that makes the size")
}

/// Write `wire` as resource `r`'s row.
fn put(t: &mut Table, r: u8, wire: Wire) {
    let (event_type, resource) = key(r);
    let seq = wire.event().unwrap().meta.seq;
    t.insert(&event_type, &resource, wire, seq, Instant::now());
}

fn admit(t: &Table, rows: &[(u8, usize)], origin: Origin) -> Result<(), Full> {
    let keys: Vec<(Key, usize)> = rows.iter().map(|&(r, size)| (key(r), size)).collect();
    t.admit(keys.iter().map(|((t, r), s)| (t, r.as_str(), *s)), origin)
}

fn charge(r: u8, size: usize) -> usize {
    let (event_type, resource) = key(r);
    cost(&event_type, &resource, size)
}

#[test]
fn bytes_bound_new_and_growing_entries_but_never_a_shrinking_update() {
    let limits = Limits {
        max_entries: 1000,
        max_bytes: 8 * 2048,
    };
    let mut t = Table::new(limits);
    // Synthetic gets 7/8 of 16 KiB = 14 KiB: entries of 2 KiB each.
    let size = 2048 - charge(0, 0);
    let mut seq = 0;
    let mut taken = 0;
    for i in 0..10u8 {
        if admit(&t, &[(i, size)], Origin::Synthetic).is_ok() {
            seq += 1;
            put(&mut t, i, sized(i, seq, size));
            taken += 1;
        }
    }
    assert_eq!(taken, 7);
    assert_eq!(t.bytes(), 7 * 2048);
    // Growing a known entry past the limit is refused, keeping it is not.
    assert!(matches!(
        admit(&t, &[(0, size + 200)], Origin::Synthetic),
        Err(Full::Bytes { .. })
    ));
    assert_eq!(admit(&t, &[(0, size)], Origin::Synthetic), Ok(()));
    assert_eq!(admit(&t, &[(0, 1)], Origin::Synthetic), Ok(()));
    // The upstream has the last 1/8.
    assert_eq!(admit(&t, &[(100, size)], Origin::Upstream), Ok(()));
    assert!(admit(&t, &[(100, size), (101, size)], Origin::Upstream).is_err());
}

#[test]
fn a_batch_is_measured_whole() {
    let mut t = Table::new(Limits {
        max_entries: 16,
        max_bytes: 1 << 20,
    });
    put(&mut t, 0, wire(0, 1, 0));
    // 14 synthetic entries allowed (7/8 of 16): 1 held + 13 new fit, 14 not.
    let rows: Vec<(u8, usize)> = (1..=14).map(|r| (r, 10)).collect();
    assert!(admit(&t, &rows[..13], Origin::Synthetic).is_ok());
    assert!(matches!(
        admit(&t, &rows, Origin::Synthetic),
        Err(Full::Entries { max: 14, .. })
    ));
    // The same key twice in a batch is one entry.
    let full: Vec<(u8, usize)> = (1..=13).chain([13]).map(|r| (r, 10)).collect();
    assert!(admit(&t, &full, Origin::Synthetic).is_ok());
}

#[test]
fn a_page_holds_at_least_one_event_and_says_when_more_follow() {
    let mut t = Table::new(Limits::default());
    let size = wire(0, 1, 0).body().len();
    for i in 0..5u8 {
        put(&mut t, i, wire(i, u64::from(i) + 1, 0));
    }
    let all = Selector::new(&[], "").unwrap();
    let p = t.page(&all, 0, 1);
    assert_eq!((p.events.len(), p.more), (1, true));
    let p = t.page(&all, 0, 2 * size + 1);
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
    /// Write resource `r`, its id padded by so many bytes.
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
        let run = |t: &mut Table, seq: &mut u64, r: u8, pad: usize| {
            *seq += 1;
            put(t, r, wire(r, *seq, pad));
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
        let rows = || t.latest.iter().flat_map(|(t, rows)| rows.iter().map(move |(r, e)| (t, r, e)));
        let table: HashMap<Key, u64> = rows()
            .map(|(t, r, e)| ((t.clone(), r.clone()), e.seq()))
            .collect();
        prop_assert_eq!(read, table);
        // The index and the counts agree with the rows.
        prop_assert_eq!(t.by_seq.len(), rows().count());
        prop_assert_eq!(t.len(), rows().count());
        let bytes: usize = rows().map(|(t, r, e)| cost(t, r, e.size())).sum();
        prop_assert_eq!(t.bytes(), bytes);
    }

    /// Admission keeps both bounds for any history of writes.
    #[test]
    fn admitted_writes_never_pass_the_bounds(
        writes in prop::collection::vec((0u8..60, 0usize..3000, any::<bool>()), 1..300),
    ) {
        let limits = Limits { max_entries: 32, max_bytes: 48 * 1024 };
        let mut t = Table::new(limits);
        let mut seq = 0;
        for (r, pad, upstream) in writes {
            let origin = if upstream { Origin::Upstream } else { Origin::Synthetic };
            let (event_type, resource) = key(r);
            let before = t.get(&event_type, &resource).map(|e| charge(r, e.size()));
            let w = wire(r, seq + 1, pad);
            let size = w.body().len();
            match admit(&t, &[(r, size)], origin) {
                Ok(()) => {
                    seq += 1;
                    put(&mut t, r, w);
                }
                Err(_) => {
                    // Only a new or growing entry is ever refused.
                    prop_assert!(before.is_none_or(|b| charge(r, size) > b));
                }
            }
            prop_assert!(t.len() <= limits.max_entries);
            prop_assert!(t.bytes() <= limits.max_bytes);
        }
    }
}
