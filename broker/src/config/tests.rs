//! Layering, defaults and every refusal of the configuration.
use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn no_input_gives_the_design_defaults() {
    let c = Config::load(None, env(&[]), &[]).unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(c.emit, "tcp://127.0.0.1:9000");
    assert_eq!(c.publish, "tcp://127.0.0.1:9001");
    assert_eq!(c.query, "tcp://127.0.0.1:9002");
    assert_eq!(c.http.listen, "0.0.0.0:8989");
    assert_eq!(c.http.path, "/event");
    assert!(!c.http.open && c.http.allow.is_empty());
    assert!(
        !c.serves_http(),
        "no upstream, not open: nothing listens on the network"
    );
    assert_eq!(c.effective_emit_policy(), EmitPolicy::Allow);
}

#[test]
fn following_an_upstream_serves_http_and_protects_its_types() {
    let url = (
        "upstream.url",
        "http://127.0.0.1:9043/api/ocloudNotifications/v2".to_owned(),
    );
    let c = Config::load(None, env(&[]), std::slice::from_ref(&url)).unwrap();
    assert!(c.serves_http());
    assert_eq!(c.effective_emit_policy(), EmitPolicy::ProtectUpstream);
    let c = Config::load(
        None,
        env(&[]),
        &[url.clone(), ("emit_policy", "allow".into())],
    )
    .unwrap();
    assert_eq!(c.effective_emit_policy(), EmitPolicy::Allow);
    let c = Config::load(None, env(&[("PTP_BROKER_EMIT_POLICY", "deny")]), &[]).unwrap();
    assert_eq!(c.effective_emit_policy(), EmitPolicy::Deny);
    let err = Config::load(None, env(&[]), &[url, ("http.open", "true".into())])
        .unwrap_err()
        .to_string();
    assert!(err.contains("http.open"), "{err}");
    let c = Config::load(None, env(&[("PTP_BROKER_HTTP__OPEN", "true")]), &[]).unwrap();
    assert!(c.serves_http());
    let err = Config::load(None, env(&[]), &[("emit_policy", "sometimes".into())])
        .unwrap_err()
        .to_string();
    assert!(err.contains("sometimes"), "{err}");
}

#[test]
fn ipc_mode_and_group_are_checked() {
    let c = Config::load(None, env(&[]), &[]).unwrap();
    assert_eq!(c.ipc_mode().unwrap(), 0o660);
    let c = Config::load(
        None,
        env(&[]),
        &[("ipc_mode", "0600".into()), ("ipc_group", "0".into())],
    )
    .unwrap();
    assert_eq!(
        (c.ipc_mode().unwrap(), c.ipc_gid().unwrap()),
        (0o600, Some(0))
    );
    for (key, value) in [
        ("ipc_mode", "rw-rw----"),
        ("ipc_mode", "01777"),
        ("ipc_group", "no-such-group-here"),
    ] {
        let err = Config::load(None, env(&[]), &[(key, value.into())])
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{err}");
    }
}

#[test]
fn the_allow_list_takes_cidrs_only() {
    let dir = std::env::temp_dir().join(format!("ptp-broker-config-allow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("allow.toml");
    std::fs::write(&file, "[http]\nallow = [\"10.0.0.0/8\", \"::1\"]\n").unwrap();
    let c = Config::load(Some(&file), env(&[]), &[]).unwrap();
    assert_eq!(c.allow().unwrap().len(), 2);
    let c = Config::load(
        None,
        env(&[("PTP_BROKER_HTTP__ALLOW", "10.0.0.0/8,192.168.1.0/24")]),
        &[],
    )
    .unwrap();
    assert_eq!(c.http.allow, ["10.0.0.0/8", "192.168.1.0/24"]);
    std::fs::write(&file, "[http]\nallow = [\"10.0.0.0/40\"]\n").unwrap();
    let err = Config::load(Some(&file), env(&[]), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("http.allow"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn layers_apply_in_order_file_env_flags() {
    let dir = std::env::temp_dir().join(format!("ptp-broker-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("broker.toml");
    std::fs::write(
        &file,
        "emit = \"ipc:///tmp/e\"\npub = \"tcp://127.0.0.1:7001\"\nheartbeat_ms = 500\n[http]\npath = \"/x\"\n",
    )
    .unwrap();
    let c = Config::load(
        Some(&file),
        env(&[
            ("PTP_BROKER_PUB", "tcp://127.0.0.1:7002"),
            ("PTP_BROKER_HTTP__PATH", "/y"),
            ("OTHER", "1"),
        ]),
        &[("heartbeat_ms", "250".into())],
    )
    .unwrap();
    assert_eq!(c.emit, "ipc:///tmp/e");
    assert_eq!(c.publish, "tcp://127.0.0.1:7002");
    assert_eq!(c.http.path, "/y");
    assert_eq!(c.heartbeat_ms, 250);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn unknown_keys_and_bad_values_are_errors() {
    let dir = std::env::temp_dir().join(format!("ptp-broker-config-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(&file, "emitt = \"tcp://127.0.0.1:1\"\n").unwrap();
    let err = Config::load(Some(&file), env(&[]), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("emitt"), "{err}");
    let err = Config::load(None, env(&[("PTP_BROKER_BOGUS", "1")]), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("bogus"), "{err}");
    for (key, value, want) in [
        ("emit", "udp://x:1", "not tcp://"),
        ("pub", "tcp://127.0.0.1", "no port"),
        ("query", "ipc://", "no path"),
        ("emit", "ipc://*", "wildcard"),
        ("heartbeat_ms", "0", "outside"),
        ("http.listen", "nowhere", "IP:PORT"),
        ("state.max_entries", "0", "outside"),
        ("state.max_bytes", "1000", "1 MiB to 1 TiB"),
    ] {
        let err = Config::load(None, env(&[]), &[(key, value.into())])
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{key}={value}: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_state_bounds_come_from_the_environment_too() {
    let c = Config::load(
        None,
        env(&[
            ("PTP_BROKER_STATE__MAX_ENTRIES", "1000"),
            ("PTP_BROKER_STATE__MAX_BYTES", "2097152"),
        ]),
        &[],
    )
    .unwrap();
    assert_eq!((c.state.max_entries, c.state.max_bytes), (1000, 2 << 20));
    assert!(Config::default().to_toml().contains("[state]"));
}

#[test]
fn upstream_and_kube_keys_layer_like_the_others() {
    use crate::source::upstream::{ApiVersion, Flavor, KubeMode};
    let c = Config::load(None, env(&[]), &[]).unwrap();
    assert_eq!(c.upstream.url, None);
    assert_eq!(c.upstream.api, ApiVersion::Auto);
    assert_eq!(c.upstream.flavor, Flavor::Redhat);
    assert_eq!(c.upstream.health_interval_ms, 2000);
    assert!(!c.kube.enabled);
    assert_eq!(c.kube.mode, KubeMode::PortForward);
    assert_eq!(c.kube.namespace, "openshift-ptp");
    let c = Config::load(
        None,
        env(&[
            ("PTP_BROKER_UPSTREAM__HEALTH_INTERVAL_MS", "250"),
            ("PTP_BROKER_KUBE__NAMESPACE", "ptp"),
        ]),
        &[
            (
                "upstream.url",
                "http://127.0.0.1:9043/api/ocloudNotifications/v2".into(),
            ),
            ("upstream.api", "v1".into()),
            ("upstream.node", "n1".into()),
            ("upstream.flavor", "starlingx".into()),
            ("upstream.callback", "http://10.0.0.1:8989/event".into()),
            ("http.listen", "127.0.0.1:0".into()),
        ],
    )
    .unwrap();
    assert_eq!(c.upstream.api, ApiVersion::V1);
    assert_eq!(c.upstream.flavor, Flavor::Starlingx);
    assert_eq!(c.upstream.node.as_deref(), Some("n1"));
    assert_eq!(c.upstream.health_interval_ms, 250);
    assert_eq!(c.kube.namespace, "ptp");
    let c = Config::load(
        None,
        env(&[]),
        &[
            ("kube.enabled", "true".into()),
            ("kube.mode", "service".into()),
        ],
    )
    .unwrap();
    assert_eq!(c.kube.mode, KubeMode::Service);
    let c = Config::load(None, env(&[]), &[("http.enabled", "false".into())]).unwrap();
    assert!(!c.http.enabled);
}

#[test]
fn bad_upstream_settings_are_errors() {
    let url = ("upstream.url", "http://127.0.0.1:1/v2".to_owned());
    for (overrides, want) in [
        (vec![("upstream.url", "ftp://x/".to_owned())], "not an http"),
        (vec![("upstream.url", "nowhere".to_owned())], "upstream.url"),
        (vec![url.clone(), ("upstream.api", "v3".to_owned())], "v3"),
        (
            vec![url.clone(), ("upstream.flavor", "suse".to_owned())],
            "suse",
        ),
        (
            vec![url.clone(), ("upstream.callback", "x".to_owned())],
            "upstream.callback",
        ),
        (
            vec![url.clone(), ("upstream.node", "a/b".to_owned())],
            "node name",
        ),
        (
            vec![url.clone(), ("upstream.health_interval_ms", "1".to_owned())],
            "outside",
        ),
        (
            vec![url.clone(), ("kube.enabled", "true".to_owned())],
            "not both",
        ),
        (
            vec![url.clone(), ("http.enabled", "false".to_owned())],
            "somewhere to POST",
        ),
        (vec![("kube.mode", "tunnel".to_owned())], "tunnel"),
        (vec![("upstream.bogus", "1".to_owned())], "bogus"),
        (vec![("kube.bogus", "1".to_owned())], "bogus"),
    ] {
        let err = Config::load(None, env(&[]), &overrides)
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{overrides:?}: {err}");
    }
    let dir = std::env::temp_dir().join(format!("ptp-broker-config-up-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "[upstream]\nresources = [\"/sync/nothing\"]\nurl = \"http://h/v2\"\n",
    )
    .unwrap();
    let err = Config::load(Some(&file), env(&[]), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("/sync/nothing"), "{err}");
    std::fs::write(
        &file,
        "[upstream]\nresources = [\"PTP_LOCK_STATE\", \"/sync/sync-status/sync-state\"]\n",
    )
    .unwrap();
    let c = Config::load(Some(&file), env(&[]), &[]).unwrap();
    assert_eq!(c.upstream.resources.len(), 2);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn printed_config_reads_back() {
    let c = Config::default();
    let printed = c.to_toml();
    assert!(
        printed.contains("pub = \"tcp://127.0.0.1:9001\""),
        "{printed}"
    );
    let back: Config = toml::from_str(&printed).unwrap();
    assert_eq!(back, c);
}
