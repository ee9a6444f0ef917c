//! Wrong subscriptions are refused with the reason, by the CLI and in the
//! config file, and leave nothing behind.

use std::process::Command;

use super::*;
use crate::peers::TempDir;
use crate::util::binary;

#[test]
fn bad_subscriptions_are_refused_with_the_reason() {
    let node = Node::start("sink-cli", &[]);
    let broker = &node.broker;
    let cases: &[(&[&str], &[&str])] = &[
        // (arguments after `subscribe`, any of these in the message)
        (&["ftp://x"], &["ftp"]),
        (&["mailto:a@b"], &["mailto"]),
        (&["tcp:127.0.0.1"], &["port", "tcp:127.0.0.1"]),
        // Options of another sink.
        (&["http://127.0.0.1:1/x", "--sync"], &["sync"]),
        (
            &["http://127.0.0.1:1/x", "--event-param", "e"],
            &["event-param", "event_param"],
        ),
        (&["http://127.0.0.1:1/x", "--jetstream"], &["jetstream"]),
        (&["tcp:127.0.0.1:1", "--mode", "binary"], &["mode"]),
        (
            &["tcp:127.0.0.1:1", "--dead-letter", "http://127.0.0.1:2/"],
            &["dead-letter", "dead_letter"],
        ),
        (&["nats://127.0.0.1:1", "--sync"], &["sync"]),
        // Values out of their sets.
        (
            &["http://127.0.0.1:1/x", "--mode", "sideways"],
            &["sideways"],
        ),
        (
            &["http://127.0.0.1:1/x", "--backoff", "random"],
            &["random"],
        ),
        (
            &["http://127.0.0.1:1/x", "--dead-letter", "tcp:127.0.0.1:2"],
            &["dead"],
        ),
        (&["http://127.0.0.1:1/x", "--id", "no spaces"], &["id"]),
        (&["http://127.0.0.1:1/x", "--id", &"x".repeat(65)], &["id"]),
    ];
    for (args, wants) in cases {
        let mut full = vec!["subscribe"];
        full.extend_from_slice(args);
        let err = tool_err(broker, &full);
        assert!(
            wants
                .iter()
                .any(|w| err.to_lowercase().contains(&w.to_lowercase())),
            "subscribe {args:?}: wanted one of {wants:?} in {err:?}"
        );
    }
    let err = tool_err(broker, &["unsubscribe", "no-such-subscription"]);
    assert!(err.contains("no-such-subscription"), "{err}");
    assert!(
        subscriptions(broker).is_empty(),
        "nothing was added: {:#?}",
        subscriptions(broker)
    );

    // A good one still works, twice the same id does not.
    let id = subscribe(broker, "http://127.0.0.1:1/x", &["--id", "only-once"]);
    assert_eq!(id, "only-once");
    tool_err(
        broker,
        &["subscribe", "http://127.0.0.1:1/y", "--id", "only-once"],
    );
    let plain = tool_ok(broker, &["subscriptions"]);
    assert_eq!(
        plain.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "{plain}"
    );
    assert!(plain.contains("only-once"), "{plain}");
}

#[test]
fn subscribe_help_names_the_options() {
    let out = Command::new(binary("ptp-broker"))
        .args(["subscribe", "--help"])
        .output()
        .expect("ptp-broker subscribe --help");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "--type",
        "--resource",
        "--id",
        "--mode",
        "--timeout-ms",
        "--retry",
        "--backoff",
        "--backoff-delay-ms",
        "--backoff-max-ms",
        "--retry-after-max-ms",
        "--dead-letter",
        "--sync",
        "--event-param",
        "--subject",
        "--jetstream",
        "--queue",
    ] {
        assert!(
            text.contains(want),
            "subscribe --help lacks {want}:\n{text}"
        );
    }
}

#[test]
fn a_bad_subscription_in_the_config_file_stops_the_start() {
    let dir = TempDir::new("sink-config");
    let state = dir.join("state");
    let cases: &[(&str, &[&str])] = &[
        ("uri = \"ftp://x\"\n", &["ftp"]),
        ("uri = \"http://127.0.0.1:1/\"\nretyr = 3\n", &["retyr"]),
        (
            "id = \"has space\"\nuri = \"http://127.0.0.1:1/\"\n",
            &["has space", "id"],
        ),
        ("uri = \"tcp:127.0.0.1:1\"\nmode = \"binary\"\n", &["mode"]),
        ("types = [\"OS_CLOCK_SYNC\"]\n", &["uri"]),
    ];
    for (body, wants) in cases {
        let file = dir.join("broker.toml");
        std::fs::write(&file, format!("[[subscription]]\n{body}")).expect("write");
        let err = Broker::try_start(&[
            "--emit",
            "tcp://127.0.0.1:0",
            "--pub",
            "tcp://127.0.0.1:0",
            "--query",
            "tcp://127.0.0.1:0",
            "--config",
            &file,
            "--state-dir",
            &state,
        ])
        .err()
        .unwrap_or_else(|| panic!("started with [[subscription]] {body:?}"));
        assert!(
            wants.iter().any(|w| err.contains(w)),
            "{body:?}: wanted one of {wants:?} in {err}"
        );
    }
}
