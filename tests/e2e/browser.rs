//! The live page (`/ui` on the monitor listener) in a real browser:
//! Debian's chromium, headless, driven over the DevTools protocol.
//!
//! The page is loaded under the broker's own Content-Security-Policy, so a
//! script or style the policy refuses, or any script error, fails the test.
//! It follows a change (the row's state, the timeline), shows "disconnected"
//! when the broker dies, and rebuilds its table from the next run's state
//! when EventSource reconnects. The screenshot always goes to
//! `target/tmp/ui.png`; with `WRITE_UI_SCREENSHOT=1` also to
//! `docs/ui.png` (docs/LIVE-PAGE.md).
//!
//! Chromium is a dependency of the suite (tests/bench/install-deps.sh): a
//! machine without it fails this test rather than skipping it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::util::{Broker, DEADLINE, free_port};

const CHROMIUM: &str = "/usr/bin/chromium";
/// The node name the broker reports (and the resources use).
const NODE: &str = "worker-0";
const OS_CLOCK: &str = "event.sync.sync-status.os-clock-sync-state-change";
const SYNC_STATE: &str = "event.sync.sync-status.synchronization-state-change";

/// A headless chromium in a process group of its own, with a fresh profile
/// in `dir`; on drop the whole group is killed, the browser reaped and
/// `dir` removed.
struct Chromium {
    child: Child,
    dir: PathBuf,
    stderr: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Chromium {
    /// Start it (it takes a second or so: [`Chromium::devtools`] waits).
    fn spawn(dir: PathBuf) -> Chromium {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: the live page's browser test needs Debian's chromium; \
             run tests/bench/install-deps.sh (it installs it)"
        );
        use std::os::unix::process::CommandExt;
        let profile = dir.join("profile");
        let mut child = Command::new(CHROMIUM)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-port=0",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-extensions",
                "--disable-sync",
                "--disable-breakpad",
                "--disable-crash-reporter",
                "--hide-scrollbars",
                "--mute-audio",
                "--window-size=1280,800",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {CHROMIUM}: {e}"));
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        // Read to the end: a full pipe would stall the browser.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Chromium {
            child,
            dir,
            stderr: rx,
            seen: Vec::new(),
        }
    }

    /// The browser's DevTools WebSocket URL, from its stderr.
    fn devtools(&mut self) -> String {
        let start = Instant::now();
        loop {
            let left = DEADLINE.checked_sub(start.elapsed()).unwrap_or_default();
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.split("DevTools listening on ").nth(1) {
                        return url.trim().to_owned();
                    }
                    self.seen.push(line);
                }
                Err(_) => panic!(
                    "chromium printed no DevTools URL (exit {:?}); stderr:\n{}",
                    self.child.try_wait().ok().flatten(),
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // The renderers and helpers are in the browser's group (its id).
        if let Ok(pgid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) with a negative id signals that process group only.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A helper killed an instant ago may still be going away.
        let start = Instant::now();
        while std::fs::remove_dir_all(&self.dir).is_err()
            && self.dir.exists()
            && start.elapsed() < Duration::from_secs(2)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One tab, attached over the browser's DevTools socket (flat sessions).
struct Page {
    runtime: tokio::runtime::Runtime,
    socket: Socket,
    session: Option<String>,
    next_id: u64,
    /// Script errors, refusals by the page's policy, console errors.
    problems: Vec<String>,
}

impl Page {
    fn open(devtools: &str) -> Page {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let connect = async {
            tokio::time::timeout(DEADLINE, tokio_tungstenite::connect_async(devtools)).await
        };
        let (socket, _) = runtime
            .block_on(connect)
            .expect("DevTools connect timed out")
            .expect("DevTools connect");
        let mut page = Page {
            runtime,
            socket,
            session: None,
            next_id: 0,
            problems: Vec::new(),
        };
        let target = page.call("Target.createTarget", json!({ "url": "about:blank" }));
        let attached = page.call(
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        page.session = Some(
            attached["sessionId"]
                .as_str()
                .expect("sessionId")
                .to_owned(),
        );
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            page.call(domain, json!({}));
        }
        page.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": false }),
        );
        // A still picture: no flash on changed rows, light colours.
        page.call(
            "Emulation.setEmulatedMedia",
            json!({ "features": [
                { "name": "prefers-reduced-motion", "value": "reduce" },
                { "name": "prefers-color-scheme", "value": "light" },
            ] }),
        );
        page
    }

    /// Call `method`; its result. Events read meanwhile are checked for problems.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut request = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = &self.session {
            request["sessionId"] = json!(session);
        }
        let Page {
            runtime,
            socket,
            problems,
            ..
        } = self;
        let exchange = async {
            socket
                .send(Message::text(request.to_string()))
                .await
                .expect("DevTools send");
            loop {
                let message = match socket.next().await {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None => panic!("DevTools socket closed"),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => panic!("DevTools socket: {e}"),
                };
                let message: Value = serde_json::from_str(&message).expect("DevTools JSON");
                if message["id"] == id {
                    assert!(
                        message.get("error").is_none(),
                        "{method} failed: {}",
                        message["error"]
                    );
                    return message["result"].clone();
                }
                if let Some(problem) = problem(&message) {
                    problems.push(problem);
                }
            }
        };
        runtime
            .block_on(async { tokio::time::timeout(DEADLINE, exchange).await })
            .unwrap_or_else(|_| panic!("no answer to {method}"))
    }

    /// The value of a JavaScript expression (JSON-able).
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        );
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression} threw: {}",
            result["exceptionDetails"]
        );
        result["result"]["value"].clone()
    }

    /// What the page shows now.
    fn view(&mut self) -> View {
        serde_json::from_value(self.eval(VIEW)).expect("the page's view")
    }

    /// Poll the page until `condition` holds (failing at the deadline with
    /// the last view).
    fn wait(&mut self, what: &str, condition: impl Fn(&View) -> bool) -> View {
        let start = Instant::now();
        loop {
            let view = self.view();
            if condition(&view) {
                return view;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for the page to show {what}; it shows {view:#?}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// A PNG of the whole page.
    fn screenshot(&mut self) -> Vec<u8> {
        let height =
            self.eval("Math.ceil(document.documentElement.getBoundingClientRect().height)");
        let height = height.as_u64().unwrap_or(800).clamp(400, 4000);
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("screenshot base64")
    }
}

/// A DevTools event that means the page went wrong, as text.
fn problem(message: &Value) -> Option<String> {
    let params = &message["params"];
    match message["method"].as_str()? {
        "Runtime.exceptionThrown" => Some(format!("exception: {}", params["exceptionDetails"])),
        "Runtime.consoleAPICalled" if params["type"] == "error" => {
            Some(format!("console.error: {}", params["args"]))
        }
        "Log.entryAdded" if params["entry"]["level"] == "error" => {
            Some(format!("log: {}", params["entry"]["text"]))
        }
        _ => None,
    }
}

/// The page read through its DOM (the `data-*` attributes are its contract).
const VIEW: &str = r##"(() => {
  const text = (id) => document.getElementById(id)?.textContent ?? null;
  return {
    conn: document.getElementById("conn")?.dataset.conn ?? null,
    ready: document.getElementById("ready")?.dataset.ready ?? null,
    node: text("node"),
    epoch: text("epoch"),
    title: document.title,
    elements_in_cells: document.querySelectorAll("#rows td *").length,
    rows: [...document.querySelectorAll("#rows tr")].map((tr) => ({
      type: tr.dataset.type,
      resource: tr.dataset.resource,
      state: tr.dataset.state ?? "",
      cells: [...tr.cells].map((td) => td.textContent),
    })),
    timeline: [...document.querySelectorAll("#timeline li.change")].map((li) => ({
      type: li.dataset.type,
      resource: li.dataset.resource,
      old: li.dataset.old,
      new: li.dataset.new,
    })),
    marks: [...document.querySelectorAll("#timeline li.mark")].map((li) => li.textContent),
  };
})()"##;

#[derive(Debug, Deserialize)]
struct View {
    conn: Option<String>,
    ready: Option<String>,
    node: Option<String>,
    epoch: Option<String>,
    title: String,
    /// Elements inside the table's cells: one state pill a row, nothing else.
    elements_in_cells: u64,
    rows: Vec<Row>,
    timeline: Vec<Change>,
    marks: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Row {
    #[serde(rename = "type")]
    event_type: String,
    resource: String,
    state: String,
    /// type, resource, state, offset, origin, age, seq.
    cells: Vec<String>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Change {
    #[serde(rename = "type")]
    event_type: String,
    resource: String,
    old: String,
    new: String,
}

impl View {
    fn live(&self, epoch: u64) -> bool {
        self.conn.as_deref() == Some("live") && self.epoch == Some(epoch.to_string())
    }

    fn row(&self, event_type: &str, resource: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.event_type == event_type && r.resource == resource)
    }

    fn state(&self, event_type: &str, resource: &str) -> Option<&str> {
        self.row(event_type, resource).map(|r| r.state.as_str())
    }
}

fn resource(path: &str) -> String {
    format!("/cluster/node/{NODE}/{path}")
}

/// `ptp-broker emit ARGS…` against `broker`; the sequence number it got.
fn emit(broker: &Broker, args: &[&str]) -> u64 {
    let mut full = vec!["emit"];
    full.extend_from_slice(args);
    let out = broker.tool(&full);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "emit {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.trim()
        .rsplit(' ')
        .next()
        .and_then(|seq| seq.parse().ok())
        .unwrap_or_else(|| panic!("no seq in {text:?}"))
}

fn start_broker(dir: &Path, monitor: &str) -> Broker {
    let config = dir.join("broker.toml");
    let config = config.to_str().expect("UTF-8 temp path");
    Broker::start(&["--config", config, "--monitor", monitor])
}

#[test]
fn the_live_page_follows_changes_and_survives_a_broker_restart() {
    use std::sync::atomic::{AtomicU32, Ordering};
    static RUN: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ptp-broker-browser-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // The guard owns `dir` from here: every path out removes it.
    let mut chromium = Chromium::spawn(dir.clone());
    std::fs::write(
        dir.join("broker.toml"),
        format!("[kube]\nnode_name = \"{NODE}\"\n"),
    )
    .expect("config");
    let monitor = format!("127.0.0.1:{}", free_port());
    let mut broker = start_broker(&dir, &monitor);
    assert_eq!(broker.endpoints.monitor.as_deref(), Some(monitor.as_str()));

    // A grandmaster's state before the page opens: the page gets it as the
    // stream's initial state (table rows, no timeline entries).
    let ptp = resource("ens1f0/master");
    let gnss = resource("ens1f0/gnss");
    let synce = resource("ens1f0/synce");
    let os_clock = resource("CLOCK_REALTIME");
    let sync = resource("sync-state");
    emit(
        &broker,
        &[
            "GNSS_SYNC_STATUS",
            "SYNCHRONIZED",
            "--offset",
            "1",
            "--resource",
            &gnss,
        ],
    );
    emit(
        &broker,
        &[
            "PTP_LOCK_STATE",
            "LOCKED",
            "--offset",
            "-3",
            "--resource",
            &ptp,
        ],
    );
    emit(&broker, &["PTP_CLOCK_CLASS", "6", "--resource", &ptp]);
    emit(
        &broker,
        &["SYNCE_LOCK_STATE", "LOCKED", "--resource", &synce],
    );
    emit(&broker, &["SYNC_STATE", "LOCKED", "--resource", &sync]);

    let devtools = chromium.devtools();
    let mut page = Page::open(&devtools);
    let url = format!("http://{monitor}/ui");
    let navigated = page.call("Page.navigate", json!({ "url": url }));
    assert!(navigated.get("errorText").is_none(), "{navigated}");
    let epoch = broker.endpoints.epoch;
    let view = page.wait("the initial state", |v| v.live(epoch) && v.rows.len() == 5);
    assert_eq!(view.node.as_deref(), Some(NODE));
    assert_eq!(view.ready.as_deref(), Some("true"));
    assert!(view.title.contains(NODE), "{view:#?}");
    assert!(
        view.timeline.is_empty(),
        "initial state is no change: {view:#?}"
    );
    let ptp_row = view
        .row("event.sync.ptp-status.ptp-state-change", &ptp)
        .expect("PTP row");
    assert_eq!(ptp_row.state, "LOCKED");
    assert_eq!(ptp_row.cells[0], "PTP_LOCK_STATE");
    assert_eq!(ptp_row.cells[3], "-3 ns");
    assert_eq!(ptp_row.cells[4], "synthetic");
    assert_eq!(
        view.state("event.sync.ptp-status.ptp-clock-class-change", &ptp),
        Some("6")
    );

    // A change, then another: the row follows, the timeline says so.
    emit(
        &broker,
        &[
            "OS_CLOCK_SYNC",
            "LOCKED",
            "--offset",
            "-7",
            "--resource",
            &os_clock,
        ],
    );
    page.wait("OS_CLOCK_SYNC LOCKED", |v| {
        v.state(OS_CLOCK, &os_clock) == Some("LOCKED")
    });
    let seq = emit(
        &broker,
        &[
            "OS_CLOCK_SYNC",
            "HOLDOVER",
            "--offset",
            "412",
            "--resource",
            &os_clock,
        ],
    );
    let view = page.wait("OS_CLOCK_SYNC HOLDOVER", |v| {
        v.state(OS_CLOCK, &os_clock) == Some("HOLDOVER")
    });
    let row = view.row(OS_CLOCK, &os_clock).expect("the OS clock row");
    assert_eq!(row.cells[3], "412 ns", "{row:?}");
    assert_eq!(row.cells[6], seq.to_string(), "{row:?}");
    assert!(
        row.cells[5].ends_with('s') && row.cells[5].len() <= 3,
        "age {row:?}"
    );
    assert_eq!(
        view.rows
            .iter()
            .filter(|r| r.event_type == OS_CLOCK)
            .count(),
        1,
        "one row per (type, resource): {view:#?}"
    );
    let change = |old: &str, new: &str| Change {
        event_type: OS_CLOCK.to_owned(),
        resource: os_clock.clone(),
        old: old.to_owned(),
        new: new.to_owned(),
    };
    assert_eq!(
        view.timeline,
        [change("LOCKED", "HOLDOVER"), change("", "LOCKED")],
        "newest first"
    );
    emit(&broker, &["SYNC_STATE", "HOLDOVER", "--resource", &sync]);
    let view = page.wait("SYNC_STATE HOLDOVER", |v| {
        v.state(SYNC_STATE, &sync) == Some("HOLDOVER")
    });
    assert_eq!(view.timeline.len(), 3, "{view:#?}");
    assert!(page.problems.is_empty(), "the page: {:#?}", page.problems);

    let png = page.screenshot();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui.png");
    std::fs::write(&target, &png).expect("writing the screenshot");
    if std::env::var("WRITE_UI_SCREENSHOT").as_deref() == Ok("1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ui.png");
        std::fs::write(&docs, &png).expect("writing docs/ui.png");
    }

    // The broker dies: the page says so at once.
    broker.kill9();
    page.wait("disconnected", |v| {
        v.conn.as_deref() == Some("disconnected")
    });
    assert!(page.view().title.starts_with("(disconnected)"));

    // The next run on the same address: EventSource reconnects, the reset
    // clears the table (the new run has no state), changes arrive again.
    let broker = start_broker(&dir, &monitor);
    let epoch = broker.endpoints.epoch;
    let view = page.wait("the new run", |v| v.live(epoch) && v.rows.is_empty());
    assert_eq!(view.marks.len(), 1, "a restart mark: {view:#?}");
    assert!(view.marks[0].contains(&epoch.to_string()), "{view:#?}");
    // Text from events is text, never markup.
    let hostile = resource("<img src=x onerror=\"document.title='owned'\">&amp;");
    emit(
        &broker,
        &["OS_CLOCK_SYNC", "FREERUN", "--resource", &hostile],
    );
    let view = page.wait("FREERUN after the restart", |v| {
        v.state(OS_CLOCK, &hostile) == Some("FREERUN")
    });
    assert_eq!(view.rows.len(), 1, "{view:#?}");
    assert_eq!(view.rows[0].cells[1], hostile);
    assert_eq!(view.elements_in_cells, 1, "only the state pill: {view:#?}");
    assert_eq!(
        view.timeline[0],
        Change {
            event_type: OS_CLOCK.to_owned(),
            resource: hostile.clone(),
            old: String::new(),
            new: "FREERUN".to_owned(),
        }
    );
    assert!(!view.title.contains("owned"), "{view:#?}");
}
