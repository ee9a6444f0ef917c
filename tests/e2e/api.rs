//! The client library used in-process against a real broker process:
//! unregister, the async stream, the O-RAN pull, status.

use std::sync::mpsc;
use std::time::Duration;

use client::{Client, ClientConfig, Status};
use proto::{Delivery, Event};

use crate::util::{Broker, DEADLINE};

fn client_for(broker: &Broker) -> Client {
    let e = &broker.endpoints;
    Client::new(ClientConfig::with_endpoints(&e.emit, &e.publish, &e.query)).expect("client")
}

#[test]
fn unregister_stops_exactly_that_callback() {
    let broker = Broker::start(&[]);
    let client = client_for(&broker);
    let (tx, rx) = mpsc::channel::<(u8, String)>();
    let (a, b) = (tx.clone(), tx);
    let first = client
        .register(catalog::GNSS_SYNC_STATUS, move |e: &Event| {
            drop(a.send((1, e.data.values[0].value.clone())))
        })
        .expect("register 1");
    client
        .register(catalog::GNSS_SYNC_STATUS, move |e: &Event| {
            drop(b.send((2, e.data.values[0].value.clone())))
        })
        .expect("register 2");
    assert!(
        client
            .emit(
                catalog::GNSS_SYNC_STATUS,
                "SYNCHRONIZED".parse().expect("state")
            )
            .expect("emit")
            >= 1
    );
    let mut got = vec![
        rx.recv_timeout(DEADLINE).expect("one"),
        rx.recv_timeout(DEADLINE).expect("two"),
    ];
    got.sort();
    assert_eq!(
        got,
        [
            (1, "SYNCHRONIZED".to_owned()),
            (2, "SYNCHRONIZED".to_owned())
        ]
    );

    client
        .unregister(catalog::GNSS_SYNC_STATUS, first)
        .expect("unregister");
    assert_eq!(
        client.unregister(catalog::GNSS_SYNC_STATUS, first),
        Err(client::Error::NotRegistered(first.get()))
    );
    client
        .emit(
            catalog::GNSS_SYNC_STATUS,
            "FAILURE-NOFIX".parse().expect("state"),
        )
        .expect("emit");
    assert_eq!(
        rx.recv_timeout(DEADLINE).expect("still registered"),
        (2, "FAILURE-NOFIX".to_owned())
    );
    // Nothing for the removed callback, even after the other one got it.
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    assert_eq!(client.unregister_all(catalog::GNSS_SYNC_STATUS), Ok(1));
}

#[test]
fn async_stream_current_state_and_status() {
    let broker = Broker::start(&[]);
    let client = client_for(&broker);
    let seq = client
        .emit(catalog::SYNC_STATE, "HOLDOVER".parse().expect("state"))
        .expect("emit");
    assert_eq!(seq, 1);
    // The O-RAN pull.
    let now = client.current(catalog::SYNC_STATE).expect("current");
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].state(), Some(catalog::SyncState::Holdover));
    assert!(
        client
            .current(catalog::PTP_CLOCK_CLASS)
            .expect("current")
            .is_empty()
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut stream = client
            .subscribe(catalog::SYNC_STATE)
            .await
            .expect("subscribe");
        let initial = tokio::time::timeout(DEADLINE, stream.next_event())
            .await
            .expect("in time")
            .expect("initial");
        assert_eq!(initial.delivery, Delivery::Initial);
        assert_eq!(initial.meta.seq, 1);
        let emitter = client.clone();
        tokio::task::spawn_blocking(move || {
            emitter.emit(catalog::SYNC_STATE, "LOCKED".parse().expect("state"))
        })
        .await
        .expect("join")
        .expect("emit");
        let live = tokio::time::timeout(DEADLINE, stream.next_event())
            .await
            .expect("in time")
            .expect("live");
        assert_eq!((live.delivery, live.meta.seq), (Delivery::Live, 2));
    });
    assert_eq!(
        client.status(),
        Status::Connected {
            epoch: broker.endpoints.epoch
        }
    );
}

#[test]
fn an_unreachable_broker_is_a_clear_error_not_a_hang() {
    let port = crate::util::free_port();
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let mut config = ClientConfig::with_endpoints(&endpoint, &endpoint, &endpoint);
    config.timeout = Duration::from_millis(500);
    let client = Client::new(config).expect("client");
    let err = client
        .register(catalog::OS_CLOCK_SYNC, |_: &Event| {})
        .expect_err("no broker");
    assert!(matches!(err, client::Error::Unavailable { .. }), "{err}");
    let err = client
        .emit(catalog::OS_CLOCK_SYNC, "LOCKED".parse().expect("state"))
        .expect_err("no broker");
    assert!(err.to_string().contains(&endpoint), "{err}");
    assert!(matches!(
        client.current(catalog::OS_CLOCK_SYNC),
        Err(client::Error::Unavailable { .. })
    ));
}
