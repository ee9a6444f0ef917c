use super::*;
use proto::Content;

fn ev(epoch: u64, seq: u64, id: &str, address: &str) -> Arc<Event> {
    let mut e = Event::synthetic(
        catalog::OS_CLOCK_SYNC.into(),
        Content::parse("LOCKED", Some(address.into())).unwrap(),
    );
    e.meta.epoch = epoch;
    e.meta.seq = seq;
    e.id = id.into();
    Arc::new(e)
}

#[test]
fn dedupe_by_seq_within_a_run_and_by_id_across_runs() {
    let (tx, mut rx) = mpsc::channel(8);
    let mut r = Registration::with_stream(RegistrationId(1), catalog::OS_CLOCK_SYNC.into(), tx);
    assert_eq!(
        r.offer(&ev(1, 5, "a", "/x"), Delivery::Initial),
        Offer::Sent
    );
    assert_eq!(r.offer(&ev(1, 5, "a", "/x"), Delivery::Live), Offer::Seen);
    assert_eq!(r.offer(&ev(1, 4, "z", "/x"), Delivery::Live), Offer::Seen);
    assert_eq!(
        r.offer(&ev(1, 3, "b", "/y"), Delivery::Live),
        Offer::Sent,
        "other resource"
    );
    assert_eq!(
        r.offer(&ev(2, 1, "a", "/x"), Delivery::Repaired),
        Offer::Seen,
        "same event, new run"
    );
    assert_eq!(
        r.offer(&ev(2, 2, "c", "/x"), Delivery::Repaired),
        Offer::Sent
    );
    assert_eq!(rx.try_recv().unwrap().delivery, Delivery::Initial);
    assert_eq!(rx.try_recv().unwrap().meta.seq, 3);
    assert_eq!(rx.try_recv().unwrap().delivery, Delivery::Repaired);
}

/// The I/O thread allocated the event; the callback thread gives it
/// back once the callback has run, so that it is freed there.
#[test]
fn a_callback_thread_hands_back_the_events_it_is_done_with() {
    let (shared, _status, spent) = Shared::new();
    let (ran_tx, ran_rx) = std_mpsc::channel();
    let mut r = Registration::with_callback(
        RegistrationId(1),
        catalog::OS_CLOCK_SYNC.into(),
        Box::new(move |e: &Event| ran_tx.send(e.meta.seq).unwrap()),
        8,
        shared,
    )
    .unwrap();
    let events: Vec<Arc<Event>> = (1..=3).map(|seq| ev(1, seq, "a", "/x")).collect();
    for e in &events {
        assert_eq!(r.offer(e, Delivery::Live), Offer::Sent);
    }
    r.wake();
    let wait = std::time::Duration::from_secs(10);
    for (e, seq) in events.iter().zip(1..) {
        assert_eq!(ran_rx.recv_timeout(wait).unwrap(), seq);
        let back = spent.recv_timeout(wait).expect("handed back");
        assert!(Arc::ptr_eq(&back, e), "the same allocation, seq {seq}");
    }
}

#[test]
fn full_and_closed_queues_are_reported_and_not_marked_seen() {
    let (tx, rx) = mpsc::channel(1);
    let mut r = Registration::with_stream(RegistrationId(1), catalog::OS_CLOCK_SYNC.into(), tx);
    assert_eq!(r.offer(&ev(1, 1, "a", "/x"), Delivery::Live), Offer::Sent);
    assert_eq!(r.offer(&ev(1, 2, "b", "/x"), Delivery::Live), Offer::Full);
    assert!(r.is_new(&ev(1, 2, "b", "/x")));
    drop(rx);
    assert_eq!(r.offer(&ev(1, 3, "c", "/x"), Delivery::Live), Offer::Closed);
}

#[test]
fn an_unknown_resource_is_told_once_and_a_new_state_follows() {
    let (tx, mut rx) = mpsc::channel(8);
    let mut r = Registration::with_stream(RegistrationId(1), catalog::OS_CLOCK_SYNC.into(), tx);
    let mut locked = Event::synthetic(
        catalog::OS_CLOCK_SYNC.into(),
        Content::parse("LOCKED", Some("/x".into())).unwrap(),
    );
    locked.meta.epoch = 1;
    locked.meta.seq = 4;
    let locked = Arc::new(locked);
    assert_eq!(r.offer(&locked, Delivery::Live), Offer::Sent);
    assert_eq!(r.unknown_resources(|_| false), ["/x"]);
    assert!(r.unknown_resources(|res| res == "/x").is_empty());
    let unknown = Arc::new(Event::unknown(catalog::OS_CLOCK_SYNC.into(), "/x", 2, 0));
    assert_eq!(r.offer(&unknown, Delivery::Unknown), Offer::Sent);
    assert!(r.unknown_resources(|_| false).is_empty(), "told once");
    let again = Arc::new(Event::unknown(catalog::OS_CLOCK_SYNC.into(), "/x", 2, 7));
    assert_eq!(r.offer(&again, Delivery::Unknown), Offer::Seen);
    let mut back = Event::clone(&locked);
    back.meta.epoch = 2;
    back.meta.seq = 1;
    back.id = "new-run".into();
    assert_eq!(r.offer(&Arc::new(back), Delivery::Repaired), Offer::Sent);
    let got: Vec<Delivery> = std::iter::from_fn(|| rx.try_recv().ok())
        .map(|e| e.delivery)
        .collect();
    assert_eq!(got, [Delivery::Live, Delivery::Unknown, Delivery::Repaired]);
}
