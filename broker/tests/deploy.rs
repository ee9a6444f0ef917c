//! deploy/ is what the broker needs: the manifests read into the
//! k8s-openapi types and checked against each other and the broker (its
//! configuration loads, the probes hit the monitor's paths and port, the
//! Role grants exactly what `--kube` asks for), and the systemd unit passes
//! `systemd-analyze verify`.

use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(path)
}

fn read<T: serde::de::DeserializeOwned>(path: &str) -> T {
    let text = std::fs::read_to_string(deploy(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path} is not that kind: {e}"))
}

fn config_of(map: &ConfigMap) -> broker::Config {
    let text = map
        .data
        .as_ref()
        .and_then(|d| d.get("ptp-broker.toml"))
        .expect("ptp-broker.toml in the ConfigMap");
    // One file per call: the tests run in parallel and each removes its own.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file =
        std::env::temp_dir().join(format!("ptp-broker-deploy-{}-{n}.toml", std::process::id()));
    std::fs::write(&file, text).expect("write");
    let config = broker::Config::load(Some(&file), std::iter::empty(), &[]);
    let _ = std::fs::remove_file(&file);
    config.unwrap_or_else(|e| panic!("the ConfigMap's config does not load: {e}"))
}

#[test]
fn the_daemonset_runs_the_configmaps_config_with_probes_on_the_monitor() {
    let ds: DaemonSet = read("kubernetes/daemonset.yaml");
    let map: ConfigMap = read("kubernetes/configmap.yaml");
    let sa: ServiceAccount = read("kubernetes/serviceaccount.yaml");
    let config = config_of(&map);
    assert!(
        config.kube.enabled,
        "the DaemonSet follows the daemon through --kube"
    );
    let monitor: std::net::SocketAddr = config.monitor.listen.parse().expect("monitor.listen");
    assert!(
        monitor.ip().is_unspecified(),
        "probes come to the pod's (node's) IP"
    );

    let pod = ds.spec.template.spec.as_ref().expect("pod spec");
    assert_eq!(
        pod.service_account_name.as_deref(),
        sa.metadata.name.as_deref()
    );
    assert_eq!(
        pod.host_network,
        Some(true),
        "local processes reach 127.0.0.1"
    );
    let c = &pod.containers[0];
    // --config points into the ConfigMap's mount.
    let args = c.args.clone().unwrap_or_default();
    let at = args.iter().position(|a| a == "--config").expect("--config");
    let config_path = Path::new(&args[at + 1]);
    let mounts = c.volume_mounts.clone().unwrap_or_default();
    let config_mount = mounts
        .iter()
        .find(|m| config_path.starts_with(&m.mount_path))
        .expect("--config is under a mount");
    let volumes = pod.volumes.clone().unwrap_or_default();
    let volume = volumes
        .iter()
        .find(|v| v.name == config_mount.name)
        .expect("volume");
    assert_eq!(
        volume.config_map.as_ref().map(|c| c.name.as_str()),
        map.metadata.name.as_deref(),
        "the mount is the ConfigMap"
    );
    let key = config_path
        .file_name()
        .and_then(|f| f.to_str())
        .expect("file name");
    assert!(map.data.as_ref().is_some_and(|d| d.contains_key(key)));
    // The state directory is a volume that survives the pod.
    assert!(
        mounts.iter().any(|m| m.mount_path == config.state_dir),
        "state_dir {} is mounted",
        config.state_dir
    );
    // NODE_NAME from the downward API.
    let env = c.env.clone().unwrap_or_default();
    let node = env
        .iter()
        .find(|e| e.name == "NODE_NAME")
        .expect("NODE_NAME");
    assert_eq!(
        node.value_from
            .as_ref()
            .and_then(|v| v.field_ref.as_ref())
            .map(|f| f.field_path.as_str()),
        Some("spec.nodeName")
    );
    // Probes on the monitor's paths and port; the annotations and the
    // container port say the same port.
    let port = IntOrString::Int(i32::from(monitor.port()));
    for (probe, path) in [
        (&c.liveness_probe, "/healthz"),
        (&c.readiness_probe, "/readyz"),
    ] {
        let get = probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .expect("httpGet probe");
        assert_eq!(get.path.as_deref(), Some(path));
        assert_eq!(get.port, port);
    }
    let annotations = ds
        .spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.clone())
        .expect("annotations");
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(
        annotations["prometheus.io/port"],
        monitor.port().to_string()
    );
    assert_eq!(annotations["prometheus.io/path"], "/metrics");
    let ports = c.ports.clone().unwrap_or_default();
    assert!(
        ports.iter().any(|p| p.name.as_deref() == Some("metrics")
            && p.container_port == i32::from(monitor.port()))
    );
}

#[test]
fn the_role_grants_exactly_what_kube_asks_for() {
    let role: Role = read("kubernetes/role.yaml");
    let binding: RoleBinding = read("kubernetes/rolebinding.yaml");
    let sa: ServiceAccount = read("kubernetes/serviceaccount.yaml");
    let mut granted: Vec<(String, String, Vec<String>)> = Vec::new();
    for rule in role.rules.unwrap_or_default() {
        for group in rule.api_groups.clone().unwrap_or_default() {
            for resource in rule.resources.clone().unwrap_or_default() {
                let mut verbs = rule.verbs.clone();
                verbs.sort();
                granted.push((group.clone(), resource, verbs));
            }
        }
    }
    granted.sort();
    let mut needed: Vec<(String, String, Vec<String>)> = broker::source::upstream::kube::RBAC_RULES
        .iter()
        .map(|r| {
            let mut verbs: Vec<String> = r.verbs.iter().map(|v| (*v).to_owned()).collect();
            verbs.sort();
            (r.api_group.to_owned(), r.resource.to_owned(), verbs)
        })
        .collect();
    needed.sort();
    assert_eq!(granted, needed, "role.yaml vs RBAC_RULES");
    // In the daemon's namespace, bound to the DaemonSet's account.
    let map: ConfigMap = read("kubernetes/configmap.yaml");
    let namespace = config_of(&map).kube.namespace;
    assert_eq!(role.metadata.namespace.as_deref(), Some(namespace.as_str()));
    assert_eq!(binding.role_ref.kind, "Role");
    assert_eq!(
        Some(binding.role_ref.name.as_str()),
        role.metadata.name.as_deref()
    );
    let subject = &binding.subjects.expect("subjects")[0];
    assert_eq!(subject.kind, "ServiceAccount");
    assert_eq!(Some(subject.name.as_str()), sa.metadata.name.as_deref());
    assert_eq!(subject.namespace.as_deref(), Some(namespace.as_str()));
}

#[test]
fn the_example_config_loads() {
    let config = broker::Config::load(Some(&deploy("ptp-broker.toml")), std::iter::empty(), &[])
        .unwrap_or_else(|e| panic!("deploy/ptp-broker.toml: {e}"));
    assert_eq!(config.state_dir, "/var/lib/ptp-broker");
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    // verify checks that ExecStart's binary exists: point it at this build.
    let unit = std::fs::read_to_string(deploy("systemd/ptp-broker.service")).expect("unit");
    assert!(
        unit.contains(
            "ExecStart=/usr/local/bin/ptp-broker --config /etc/ptp-broker/ptp-broker.toml"
        )
    );
    let dir = std::env::temp_dir().join(format!("ptp-broker-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let copy = dir.join("ptp-broker.service");
    std::fs::write(
        &copy,
        unit.replace(
            "/usr/local/bin/ptp-broker",
            env!("CARGO_BIN_EXE_ptp-broker"),
        ),
    )
    .expect("write");
    let out = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&copy)
        .output()
        .expect("systemd-analyze not found: run tests/bench/install-deps.sh (the suite's command installs systemd)");
    let _ = std::fs::remove_dir_all(&dir);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // verify also loads the units ours names (network-online.target…) and,
    // in a container without systemd running, may say so about them; any
    // line about our unit is a failure.
    let ours: Vec<&str> = said.lines().filter(|l| l.contains("ptp-broker")).collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify:\n{said}"
    );
}
