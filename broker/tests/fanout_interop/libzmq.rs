//! Interop with the C libzmq SUB, when the system has it (`zmq.h` and a C
//! compiler). Nothing is installed here: without libzmq the test says so
//! and passes.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use broker::sink::fanout::Publisher;

use super::common::{publish, until_subscribed, within};

/// Connect, subscribe to argv[2], receive argv[3] messages, print each as
/// "topic body" on a line.
const SUB_C: &str = r#"
#include <zmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, argv[2], strlen(argv[2]));
    if (zmq_connect(s, argv[1]) != 0) return 2;
    int n = atoi(argv[3]);
    for (int i = 0; i < n; i++) {
        int more;
        do {
            char buf[256];
            size_t size = sizeof more;
            int len = zmq_recv(s, buf, sizeof buf - 1, 0);
            if (len < 0) return 3;
            buf[len] = 0;
            zmq_getsockopt(s, ZMQ_RCVMORE, &more, &size);
            printf("%s%s", buf, more ? " " : "\n");
        } while (more);
    }
    fflush(stdout);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libzmq_sub() {
    // tests/run.sh installs libzmq3-dev; without it this test fails, it does not skip.
    assert!(
        Path::new("/usr/include/zmq.h").exists(),
        "libzmq_sub needs /usr/include/zmq.h: run tests/run.sh (or tests/bench/install-deps.sh) first"
    );
    let dir = std::env::temp_dir().join(format!("fanout-libzmq-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (src, bin) = (dir.join("sub.c"), dir.join("sub"));
    std::fs::write(&src, SUB_C).expect("write C");
    let built = Command::new("cc")
        .arg("-O1")
        .arg(&src)
        .arg("-o")
        .arg(&bin)
        .arg("-lzmq")
        .status();
    assert!(
        built.is_ok_and(|s| s.success()),
        "cannot compile the libzmq SUB with cc -lzmq"
    );
    let (publisher, endpoint) = Publisher::bind("tcp://127.0.0.1:0").await.expect("bind");
    let mut child = KillOnDrop(
        Command::new(&bin)
            .args([endpoint.as_str(), "ptp.", "3"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn libzmq SUB"),
    );
    let mut stdout = child.0.stdout.take().expect("stdout");
    until_subscribed(&publisher, &[&["ptp."]]).await;
    publish(&publisher, "ptp.a", b"one");
    publish(&publisher, "other", b"no");
    publish(&publisher, "ptp.b", &[b'x'; 200]);
    publish(&publisher, "ptp.c", b"three");
    let out = within(
        "libzmq SUB output",
        tokio::task::spawn_blocking(move || {
            let mut out = String::new();
            stdout.read_to_string(&mut out).map(|_| out)
        }),
    )
    .await
    .expect("join")
    .expect("read stdout");
    assert!(child.0.wait().expect("wait").success(), "libzmq SUB failed");
    let want = format!("ptp.a one\nptp.b {}\nptp.c three\n", "x".repeat(200));
    assert_eq!(out, want);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The C SUB never outlives a failed test.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
