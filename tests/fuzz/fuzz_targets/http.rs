#![no_main]
//! The HTTP receiver's whole request handling: the input is what a peer
//! sends on one connection (hyper parses it, our routes answer it, every
//! push goes through the CloudEvent parser, the value rules and the state
//! table of a fresh broker). The first byte picks the mode: the secret
//! upstream callback, or `http.open`.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use broker::core::shared::Broker;
use broker::source::http::{Limits, Options, serve_stream};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The secret path the seeds use.
const SECRET: &str = "/event/0123456789abcdef0123456789abcdef";

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, request)) = data.split_first() else {
        return;
    };
    let open = mode & 1 == 1;
    let options = Options {
        path: "/event".to_owned(),
        upstream_path: (!open).then(|| SECRET.to_owned()),
        open,
        allow: Vec::new(),
        max_body: 64 * 1024,
        body_timeout: Duration::from_secs(1),
        limits: Limits {
            header_timeout: Duration::from_secs(1),
            max_connections: 16,
        },
    };
    let request = request.to_vec();
    runtime().block_on(async move {
        let (tx, _rx) = tokio::sync::mpsc::channel(64);
        let broker = Broker::with_epoch(1, tx);
        let (mut peer, server) = tokio::io::duplex(256 * 1024);
        let addr: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        let serve = tokio::spawn(serve_stream(broker, options, server, addr));
        let _ = peer.write_all(&request).await;
        let _ = peer.shutdown().await;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), peer.read_to_end(&mut answer)).await;
        serve.abort();
        let _ = serve.await;
    });
});
