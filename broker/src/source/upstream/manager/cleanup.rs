//! What the manager cleans up: subscriptions that would make the upstream
//! deliver twice or to nobody (duplicates, an earlier run's), and its own
//! at shutdown.

use super::{Manager, SHUTDOWN_LIMIT};
use crate::source::upstream::address::normalize;
use crate::source::upstream::rest::{Rest, Subscription};

impl Manager {
    /// Was `endpoint` registered by an earlier run of this broker (the same
    /// callback with no secret, or with another one)?
    pub(super) fn is_earlier_run(&self, endpoint: &str) -> bool {
        endpoint != self.callback
            && endpoint
                .strip_prefix(self.callback_base.as_str())
                .is_some_and(|rest| {
                    rest.is_empty()
                        || rest.strip_prefix('/').is_some_and(|s| {
                            !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
                        })
                })
    }

    /// Delete what would make the upstream deliver twice or to nobody:
    /// subscriptions with our callback and a wanted address that we did not
    /// adopt (an earlier pass that raced, a manual POST), and every
    /// subscription of an earlier run of this broker (killed before it could
    /// delete them; its secret is gone, so its callback only refuses).
    pub(super) async fn delete_duplicates(&self, rest: &Rest, listed: &[Subscription]) {
        for s in listed {
            let earlier = self.is_earlier_run(&s.endpoint);
            if !earlier {
                if s.endpoint != self.callback {
                    continue;
                }
                let adopted = self
                    .wanted
                    .iter()
                    .any(|w| w.id.as_deref() == Some(s.id.as_str()));
                let wanted = self
                    .wanted
                    .iter()
                    .any(|w| normalize(&w.address) == normalize(&s.resource));
                if adopted || !wanted {
                    continue;
                }
            }
            let what = match earlier {
                true => "subscription of an earlier run of this broker",
                false => "duplicate subscription",
            };
            match rest.delete(&s.id).await {
                Ok(()) => tracing::info!(resource = %s.resource, id = %s.id, "deleted {what}"),
                Err(e) => tracing::debug!("cannot delete {what} {}: {e}", s.id),
            }
        }
    }

    /// Our subscription in `listed` for wanted resource `i`: same
    /// EndpointUri, and the same address or (StarlingX) a prefix covering it.
    pub(super) fn find(&self, listed: &[Subscription], i: usize) -> Option<Subscription> {
        let want = normalize(&self.wanted[i].address);
        let ours = listed.iter().filter(|s| s.endpoint == self.callback);
        let mut covering = None;
        for s in ours {
            let have = normalize(&s.resource);
            if have == want {
                return Some(s.clone());
            }
            if want.starts_with(&format!("{have}/")) {
                covering = Some(s.clone());
            }
        }
        covering
    }

    /// Delete our subscriptions, within [`SHUTDOWN_LIMIT`]: the upstream
    /// must not keep posting to a broker that is gone.
    pub(super) async fn unsubscribe_all(&mut self) {
        let Some(rest) = &self.rest else { return };
        let mut ids: Vec<String> = self.wanted.iter_mut().filter_map(|w| w.id.take()).collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return;
        }
        let deletes = futures::future::join_all(ids.iter().map(|id| rest.delete(id)));
        match tokio::time::timeout(SHUTDOWN_LIMIT, deletes).await {
            Ok(results) => {
                let failed: Vec<String> = results
                    .into_iter()
                    .filter_map(|r| r.err().map(|e| e.to_string()))
                    .collect();
                if failed.is_empty() {
                    tracing::info!(deleted = ids.len(), "upstream subscriptions deleted");
                } else {
                    tracing::warn!(
                        failed = failed.len(),
                        "some upstream subscriptions were not deleted: {}",
                        failed.join("; ")
                    );
                }
            }
            Err(_) => tracing::warn!(
                "upstream subscriptions not deleted within {SHUTDOWN_LIMIT:?}; the upstream drops them after failed deliveries"
            ),
        }
        self.show(false);
    }
}
