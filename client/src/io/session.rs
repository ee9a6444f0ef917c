//! The link to the broker: connecting the SUB side, the sync marker that
//! proves the subscription is in effect, and the query tasks.

use std::time::Instant;

use proto::query::{Reply, Request};

use super::sub::SubConn;
use super::{Internal, Io, RECONNECT_PAUSE};
use crate::{Error, query};

impl Io {
    pub(super) fn ensure_session(&mut self) {
        if self.sub.is_some() || self.connecting || Instant::now() < self.next_connect {
            return;
        }
        self.connecting = true;
        let endpoint = self.config.publish.clone();
        let timeout = self.config.timeout;
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let connected = SubConn::connect(&endpoint, timeout, proto::query::MAX_REPLY).await;
            let _ = tx.send(Internal::Connected(connected));
        });
    }

    pub(super) fn drop_session(&mut self) {
        self.sub = None;
        self.synced = false;
        self.sync_token = None;
        self.next_connect = Instant::now() + RECONNECT_PAUSE;
    }

    pub(super) fn start_sync(&mut self) {
        self.tokens += 1;
        let token = format!(
            "{}-{}-{}",
            std::process::id(),
            self.tokens,
            self.shared.nonce
        );
        self.sync_token = Some((token.clone(), Instant::now()));
        self.spawn_query(Request::Sync { token }, Internal::SyncAnswered);
    }

    pub(super) fn spawn_query(
        &self,
        request: Request,
        wrap: impl FnOnce(Result<Reply, Error>) -> Internal + Send + 'static,
    ) {
        let endpoint = self.config.query.clone();
        let timeout = self.config.timeout;
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let result = query::request(&endpoint, &request, timeout).await;
            let _ = tx.send(wrap(result));
        });
    }
}

/// Read more of the SUB connection into its buffer; never ready if there
/// is no connection. Cancel safe.
pub(super) async fn fill(sub: &mut Option<SubConn>) -> std::io::Result<usize> {
    match sub {
        Some(conn) => conn.fill().await,
        None => std::future::pending().await,
    }
}
