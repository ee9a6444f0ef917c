//! The stamping point's rules, without sockets.
use super::*;
use proto::Content;

fn event(t: catalog::OranEvent, value: &str, resource: Option<&str>) -> Event {
    Event::synthetic(
        t.into(),
        Content::parse(value, resource.map(str::to_owned)).unwrap(),
    )
}

#[test]
fn accept_stamps_in_order_and_keeps_the_latest_per_resource() {
    let (tx, mut rx) = mpsc::channel(16);
    let b = Broker::with_epoch(5, tx);
    assert_eq!(
        b.accept(
            event(catalog::PTP_LOCK_STATE, "LOCKED", None),
            Origin::Upstream
        ),
        Ok(1)
    );
    assert_eq!(
        b.accept(
            event(catalog::PTP_LOCK_STATE, "HOLDOVER", None),
            Origin::Synthetic
        ),
        Ok(2)
    );
    assert_eq!(
        b.accept(
            event(catalog::PTP_LOCK_STATE, "LOCKED", Some("/other")),
            Origin::Synthetic
        ),
        Ok(3)
    );
    let Snapshot { seq, events, .. } = b.snapshot(&Selector::new(&[], "").unwrap());
    assert_eq!(seq, 3);
    assert_eq!(
        events.iter().map(|e| e.meta.seq).collect::<Vec<_>>(),
        [2, 3]
    );
    assert_eq!(events[0].data.values[0].value, "HOLDOVER");
    assert_eq!(events[0].meta.epoch, 5);
    for want in 1..=3 {
        assert_eq!(rx.try_recv().unwrap().seq, want);
    }
}

#[test]
fn a_full_publish_queue_drops_and_counts_but_keeps_state() {
    let (tx, _rx) = mpsc::channel(1);
    let b = Broker::with_epoch(1, tx);
    b.accept(
        event(catalog::OS_CLOCK_SYNC, "LOCKED", None),
        Origin::Synthetic,
    )
    .unwrap();
    b.accept(
        event(catalog::OS_CLOCK_SYNC, "FREERUN", None),
        Origin::Synthetic,
    )
    .unwrap();
    assert_eq!(b.stats().snapshot()["dropped_publish"], 1);
    assert_eq!(b.dropped_up_to(), 2);
    let events = b
        .snapshot(&Selector::new(&["OS_CLOCK_SYNC".into()], "").unwrap())
        .events;
    assert_eq!(events[0].data.values[0].value, "FREERUN");
}

#[test]
fn refused_events_take_no_sequence_number() {
    let (tx, _rx) = mpsc::channel(16);
    let b = Broker::with_epoch(1, tx);
    let mut bad = event(catalog::OS_CLOCK_SYNC, "LOCKED", None);
    bad.time = "never".into();
    assert!(matches!(
        b.accept(bad, Origin::Synthetic),
        Err(AcceptError::Invalid(_))
    ));
    let mut reserved = event(catalog::OS_CLOCK_SYNC, "LOCKED", None);
    reserved.event_type = catalog::HEARTBEAT;
    assert!(matches!(
        b.accept(reserved, Origin::Synthetic),
        Err(AcceptError::Reserved(_))
    ));
    assert_eq!(b.seq(), 0);
}

#[test]
fn a_batch_is_stored_whole_or_not_at_all() {
    let (tx, mut rx) = mpsc::channel(16);
    let b = Broker::with_epoch(1, tx);
    let mut bad = event(catalog::OS_CLOCK_SYNC, "LOCKED", None);
    bad.time = "never".into();
    let good = event(catalog::PTP_LOCK_STATE, "LOCKED", None);
    assert!(
        b.accept_all(vec![good.clone(), bad], Origin::Upstream)
            .is_err()
    );
    assert_eq!(b.seq(), 0);
    assert!(rx.try_recv().is_err());
    let other = event(catalog::OS_CLOCK_SYNC, "HOLDOVER", None);
    assert_eq!(
        b.accept_all(vec![good, other], Origin::Upstream),
        Ok(vec![1, 2])
    );
}

#[test]
fn seeding_takes_news_and_ignores_the_producers_clock() {
    let (tx, _rx) = mpsc::channel(16);
    let b = Broker::with_epoch(1, tx);
    // A push claiming to come from the far future...
    let mut forged = event(catalog::PTP_LOCK_STATE, "LOCKED", None);
    forged.time = "2999-01-01T00:00:00Z".into();
    b.accept(forged, Origin::Upstream).unwrap();
    // ...does not keep the upstream's later CurrentState answer out.
    let asked_at = Instant::now();
    let mut truth = event(catalog::PTP_LOCK_STATE, "FREERUN", None);
    truth.time = "2024-01-01T00:00:00Z".into();
    assert_eq!(b.seed(vec![truth.clone()], asked_at), Ok(1));
    // The same answer again is no news.
    assert_eq!(b.seed(vec![truth], Instant::now()), Ok(0));
    // A push that arrived after the question was asked is newer than the answer.
    let asked_at = Instant::now();
    b.accept(
        event(catalog::PTP_LOCK_STATE, "HOLDOVER", None),
        Origin::Upstream,
    )
    .unwrap();
    let stale = event(catalog::PTP_LOCK_STATE, "LOCKED", None);
    assert_eq!(b.seed(vec![stale], asked_at), Ok(0));
    let events = b.snapshot(&Selector::new(&[], "").unwrap()).events;
    assert_eq!(events[0].data.values[0].value, "HOLDOVER");
}

#[test]
fn the_emit_policy_applies_to_synthetic_events_only() {
    let (tx, _rx) = mpsc::channel(16);
    let b = Broker::new(tx, EmitPolicy::ProtectUpstream, Limits::default());
    let err = b
        .accept(
            event(catalog::PTP_LOCK_STATE, "LOCKED", None),
            Origin::Synthetic,
        )
        .unwrap_err();
    assert!(matches!(err, AcceptError::Policy(_)), "{err}");
    assert!(
        b.accept(
            event(catalog::PTP_LOCK_STATE, "LOCKED", None),
            Origin::Upstream
        )
        .is_ok()
    );
    let app = Event::synthetic(
        catalog::EventType::new("com.example.radio").unwrap(),
        Content::parse("1", None).unwrap(),
    );
    assert!(b.accept(app, Origin::Synthetic).is_ok());
}

#[test]
fn values_are_checked_and_normalized_on_every_path() {
    let (tx, _rx) = mpsc::channel(16);
    let b = Broker::with_epoch(1, tx);
    let mut lower = event(catalog::PTP_LOCK_STATE, "LOCKED", None);
    lower.data.values[0].value = "holdover".into();
    b.accept(lower, Origin::Synthetic).unwrap();
    let events = b.snapshot(&Selector::new(&[], "").unwrap()).events;
    assert_eq!(events[0].data.values[0].value, "HOLDOVER");
    let mut wobbly = event(catalog::PTP_LOCK_STATE, "LOCKED", None);
    wobbly.data.values[0].value = "WOBBLY".into();
    let err = b.accept(wobbly, Origin::Upstream).unwrap_err().to_string();
    assert!(
        err.contains("\"WOBBLY\" is not a PTP_LOCK_STATE state"),
        "{err}"
    );
    assert_eq!(b.seq(), 1);
}

#[test]
fn expected_upstream_types_without_state_are_unknown() {
    let (tx, _rx) = mpsc::channel(16);
    let b = Broker::with_epoch(1, tx);
    b.expect_upstream(vec![
        catalog::PTP_LOCK_STATE.into(),
        catalog::OS_CLOCK_SYNC.into(),
        catalog::SYNCE_LOCK_STATE_EXTENDED.into(),
    ]);
    b.not_offered(&catalog::SYNCE_LOCK_STATE_EXTENDED.into());
    b.accept(
        event(catalog::OS_CLOCK_SYNC, "LOCKED", None),
        Origin::Upstream,
    )
    .unwrap();
    let all = b.snapshot(&Selector::new(&[], "").unwrap());
    assert_eq!(all.unknown, [EventType::from(catalog::PTP_LOCK_STATE)]);
    let os = b.snapshot(&Selector::new(&["OS_CLOCK_SYNC".into()], "").unwrap());
    assert!(os.unknown.is_empty());
}

#[test]
fn epochs_are_json_safe_and_vary() {
    let a = new_epoch();
    assert!((1..1 << 53).contains(&a));
    assert_ne!(a, new_epoch());
}

#[test]
fn a_full_table_refuses_new_resources_but_known_ones_still_update() {
    let (tx, _rx) = mpsc::channel(1);
    let limits = Limits {
        max_entries: 64,
        max_bytes: 1 << 20,
    };
    let b = Broker::with_limits(1, tx, limits);
    let t = catalog::EventType::new("com.example.fill").unwrap();
    let fill =
        |r: &str, v: &str| Event::synthetic(t.clone(), Content::parse(v, Some(r.into())).unwrap());
    // Synthetic events get 7/8 of the entries: 56.
    for i in 0..56 {
        b.accept(fill(&format!("/r/{i}"), "1"), Origin::Synthetic)
            .unwrap();
    }
    assert!(matches!(
        b.accept(fill("/r/new", "1"), Origin::Synthetic),
        Err(AcceptError::StateFull(table::Full::Entries { max: 56, .. }))
    ));
    assert_eq!(b.stats().rejected_state_full.load(Ordering::Relaxed), 1);
    // A known resource still updates, and the upstream has its reserve.
    assert!(b.accept(fill("/r/7", "2"), Origin::Synthetic).is_ok());
    for i in 0..8 {
        let up = event(catalog::PTP_LOCK_STATE, "LOCKED", Some(&format!("/u/{i}")));
        b.accept(up, Origin::Upstream).unwrap();
    }
    let up = event(catalog::PTP_LOCK_STATE, "LOCKED", Some("/u/9"));
    assert!(matches!(
        b.accept(up, Origin::Upstream),
        Err(AcceptError::StateFull(table::Full::Entries { max: 64, .. }))
    ));
    assert_eq!(b.table_size().0, 64);
}

#[test]
fn a_state_reply_is_paged_and_the_pages_add_up_to_the_table() {
    let (tx, _rx) = mpsc::channel(1);
    let b = Broker::with_epoch(1, tx);
    let t = catalog::EventType::new("com.example.fill").unwrap();
    // ~3 MiB of events: at least three pages.
    let pad = "x".repeat(400);
    for i in 0..8000 {
        let c = Content::parse("1", Some(format!("/r/{i}/{pad}"))).unwrap();
        b.accept(Event::synthetic(t.clone(), c), Origin::Synthetic)
            .unwrap();
    }
    let all = Selector::new(&[], "").unwrap();
    let (mut after, mut pages, mut seen) = (0, 0, 0);
    loop {
        let page = b.state_page(&all, after);
        pages += 1;
        let bytes: usize = page
            .events
            .iter()
            .map(|e| proto::frame::encode_event(e).unwrap().body.len())
            .sum();
        assert!(bytes < PAGE_BYTES + 1024, "a page is {bytes} bytes");
        assert!(
            page.events
                .windows(2)
                .all(|w| w[0].meta.seq < w[1].meta.seq)
        );
        assert!(page.events.iter().all(|e| e.meta.seq > after));
        seen += page.events.len();
        after = page.events.last().map_or(after, |e| e.meta.seq);
        if !page.more {
            break;
        }
    }
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(seen, 8000);
}
