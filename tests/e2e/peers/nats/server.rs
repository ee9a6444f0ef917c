//! `nats-server` processes: one ([`NatsServer`]), a cluster of them
//! ([`NatsCluster`]), and a GET on their monitoring port ([`http_get_json`]).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::NatsClient;
use crate::peers::TempDir;
use crate::util::DEADLINE;

/// Where tests/bench/install-deps.sh puts the server.
pub const NATS_SERVER: &str = "/usr/sbin/nats-server";

/// Is the server installed? (Tests that need it fail with this hint.)
pub fn require_server() {
    assert!(
        std::path::Path::new(NATS_SERVER).exists(),
        "{NATS_SERVER} is missing: run tests/bench/install-deps.sh"
    );
}

/// What to start a server with.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    pub jetstream: bool,
    /// Listen for routes (random port) in cluster `c`.
    pub cluster: bool,
    /// Route URLs to solicit (`nats://127.0.0.1:PORT`).
    pub routes: Vec<String>,
}

/// A running `nats-server`, killed on drop.
pub struct NatsServer {
    child: Child,
    dir: TempDir,
    pub name: String,
    pub client_port: u16,
    pub monitor_port: u16,
    pub cluster_port: Option<u16>,
}

impl NatsServer {
    /// One plain server.
    pub fn start(name: &str) -> NatsServer {
        NatsServer::start_with(name, ServerOptions::default())
    }

    /// One server with JetStream (memory and file store under its temp dir).
    pub fn start_jetstream(name: &str) -> NatsServer {
        NatsServer::start_with(
            name,
            ServerOptions {
                jetstream: true,
                ..Default::default()
            },
        )
    }

    pub fn start_with(name: &str, options: ServerOptions) -> NatsServer {
        require_server();
        let dir = TempDir::new(&format!("nats-{name}"));
        let ports_dir = dir.path().join("ports");
        std::fs::create_dir_all(&ports_dir).expect("ports dir");
        let log = std::fs::File::create(dir.path().join("log")).expect("log file");
        let mut args: Vec<String> = [
            "-a",
            "127.0.0.1",
            "-p",
            "-1",
            "-m",
            "-1",
            "-n",
            name,
            "--ports_file_dir",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(ports_dir.display().to_string());
        if options.jetstream {
            args.extend(["-js".into(), "-sd".into(), dir.join("js")]);
        }
        if options.cluster {
            args.extend([
                "--cluster".into(),
                "nats://127.0.0.1:-1".into(),
                "--cluster_name".into(),
                "c".into(),
            ]);
        }
        if !options.routes.is_empty() {
            args.extend(["--routes".into(), options.routes.join(",")]);
        }
        let child = Command::new(NATS_SERVER)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawning nats-server");
        let mut server = NatsServer {
            child,
            dir,
            name: name.to_owned(),
            client_port: 0,
            monitor_port: 0,
            cluster_port: None,
        };
        let ports = server.read_ports_file(&ports_dir, options.cluster);
        let port_of = |key: &str| -> Option<u16> {
            ports[key][0]
                .as_str()
                .and_then(|url| url.rsplit(':').next())
                .and_then(|p| p.trim_end_matches('/').parse().ok())
        };
        server.client_port = port_of("nats").expect("client port in the ports file");
        server.monitor_port = port_of("monitoring").expect("monitoring port in the ports file");
        server.cluster_port = port_of("cluster");
        // Ready for clients: a raw client gets its PONG.
        drop(NatsClient::connect(server.client_port));
        server
    }

    /// The ports file is written once every listener is bound.
    fn read_ports_file(&mut self, dir: &std::path::Path, cluster: bool) -> Value {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nats-server exited ({status}): {}", self.log());
            }
            let found: Option<PathBuf> = std::fs::read_dir(dir).ok().and_then(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .find(|p| p.extension().is_some_and(|x| x == "ports"))
            });
            let parsed = found
                .and_then(|path| std::fs::read_to_string(path).ok())
                .and_then(|text| serde_json::from_str::<Value>(&text).ok())
                .filter(|v| {
                    v["nats"][0].is_string()
                        && v["monitoring"][0].is_string()
                        && (!cluster || v["cluster"][0].is_string())
                });
            if let Some(value) = parsed {
                return value;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "no ports file from nats-server: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `nats://127.0.0.1:PORT` for clients (the sink URI).
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.client_port)
    }

    /// `nats://127.0.0.1:PORT` of the route listener.
    pub fn cluster_url(&self) -> String {
        format!(
            "nats://127.0.0.1:{}",
            self.cluster_port.expect("not started with cluster")
        )
    }

    /// GET `path` on the monitoring port, as JSON.
    pub fn monitor(&self, path: &str) -> Value {
        http_get_json(self.monitor_port, path)
            .unwrap_or_else(|e| panic!("GET {path} on {}: {e}", self.name))
    }

    /// What the server logged (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    pub fn client(&self) -> NatsClient {
        NatsClient::connect(self.client_port)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET over HTTP/1.0 (the server closes after the answer), body as JSON.
pub fn http_get_json(port: u16, path: &str) -> Result<Value, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(DEADLINE))
        .map_err(|e| e.to_string())?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").map_err(|e| e.to_string())?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no body in {answer:?}"))?;
    if !head.starts_with("HTTP/1.") || !head.contains(" 200 ") {
        return Err(format!("answer {head:?}"));
    }
    serde_json::from_str(body).map_err(|e| format!("{e}: {body:?}"))
}

/// Three (or `n`) servers in cluster `c`, every one routed to every other.
pub struct NatsCluster {
    pub servers: Vec<NatsServer>,
}

impl NatsCluster {
    pub fn start(n: usize) -> NatsCluster {
        assert!(n >= 2);
        let first = NatsServer::start_with(
            "s1",
            ServerOptions {
                cluster: true,
                ..Default::default()
            },
        );
        let seed = first.cluster_url();
        let mut servers = vec![first];
        for i in 2..=n {
            servers.push(NatsServer::start_with(
                &format!("s{i}"),
                ServerOptions {
                    cluster: true,
                    routes: vec![seed.clone()],
                    ..Default::default()
                },
            ));
        }
        let cluster = NatsCluster { servers };
        cluster.wait_formed();
        cluster
    }

    /// Every server has a route to each of the others (full mesh).
    fn wait_formed(&self) {
        let want = self.servers.len() - 1;
        let start = Instant::now();
        loop {
            let routes: Vec<u64> = self
                .servers
                .iter()
                .map(|s| s.monitor("/routez")["num_routes"].as_u64().unwrap_or(0))
                .collect();
            if routes.iter().all(|&r| r as usize == want) {
                return;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "cluster did not form: routes {routes:?}; logs:\n{}",
                self.servers
                    .iter()
                    .map(|s| format!("--- {}\n{}", s.name, s.log()))
                    .collect::<String>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
