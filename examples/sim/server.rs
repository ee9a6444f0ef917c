//! Binding, the HTTP front door (one catch-all warp filter that dispatches
//! on path prefix), autoplay and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::watch;
use warp::Filter;
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use crate::config::{Config, SimError};
use crate::reply::text;
use crate::sim::Sim;
use crate::{api, control};

/// Request bodies above this are refused (413); real ones are tiny.
const MAX_BODY: u64 = 64 * 1024;

/// A simulator bound to its port but not yet serving. Tests read
/// [`BoundSim::local_addr`] before spawning [`BoundSim::serve`].
pub struct BoundSim {
    listener: TcpListener,
    sim: Sim,
    local_addr: SocketAddr,
    interval: Option<Duration>,
    /// Dropping or sending `true` stops the delivery workers.
    stop_workers: watch::Sender<bool>,
}

/// Validate `config` and bind its listen address.
pub async fn bind(config: Config) -> Result<BoundSim, SimError> {
    if config.node.is_empty() || config.node.contains('/') {
        return Err(SimError::InvalidNode(config.node));
    }
    let addr = config.listen;
    let bind_error = |source| SimError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    let (stop_workers, workers_stop) = watch::channel(false);
    let interval = config.interval.filter(|d| !d.is_zero());
    let sim = Sim::new(config, local_addr, workers_stop)?;
    Ok(BoundSim {
        listener,
        sim,
        local_addr,
        interval,
        stop_workers,
    })
}

/// Bind, print `upstream-sim listening on <url>` to stdout, and serve until
/// `shutdown` completes.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SimError> {
    use std::io::Write;
    let bound = bind(config).await?;
    let mut stdout = std::io::stdout().lock();
    // Tests wait for this line; a closed stdout must not stop the simulator.
    let _ = writeln!(stdout, "upstream-sim listening on {}", bound.base_url());
    let _ = stdout.flush();
    drop(stdout);
    bound.serve(shutdown).await;
    Ok(())
}

impl BoundSim {
    /// The address actually bound (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://<addr><prefix>`, the base URL of the v2 API.
    pub fn base_url(&self) -> String {
        self.sim.base_url().to_string()
    }

    /// Serve requests (and autoplay, if configured) until `shutdown` completes.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let sim = self.sim.clone();
        let routes = warp::method()
            .and(warp::path::full())
            .and(warp::header::optional::<u64>("content-length"))
            .and(warp::body::bytes())
            .then(
                move |method: Method,
                      path: warp::path::FullPath,
                      length: Option<u64>,
                      body: Bytes| {
                    let sim = sim.clone();
                    async move {
                        if length.is_some_and(|n| n > MAX_BODY) {
                            return text(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
                        }
                        dispatch(&sim, &method, path.as_str(), &body).await
                    }
                },
            );
        let autoplay = self
            .interval
            .map(|period| tokio::spawn(autoplay(self.sim.clone(), period)));
        tracing::info!(addr = %self.local_addr, flavor = ?self.sim.flavor(), "serving");
        warp::serve(routes)
            .incoming(self.listener)
            .graceful(shutdown)
            .run()
            .await;
        if let Some(task) = autoplay {
            task.abort();
        }
        let _ = self.stop_workers.send(true);
        tracing::info!("stopped");
    }
}

/// Route by prefix: `/sim/...` control API, `<prefix>/...` v2 API.
async fn dispatch(sim: &Sim, method: &Method, path: &str, body: &Bytes) -> Response {
    if let Some(tail) = path.strip_prefix("/sim").filter(|t| t.starts_with('/')) {
        return control::handle(sim, method, tail, body).await;
    }
    if let Some(tail) = path
        .strip_prefix(sim.flavor().prefix())
        .filter(|t| t.starts_with('/'))
    {
        return api::handle(sim, method, tail, body).await;
    }
    text(StatusCode::NOT_FOUND, "not found")
}

/// Play one step every `period`, forever (aborted at shutdown).
async fn autoplay(sim: Sim, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate; start one period in
    loop {
        ticks.tick().await;
        let events = sim.play_step().await;
        tracing::info!(events = events.len(), "autoplay step");
    }
}
