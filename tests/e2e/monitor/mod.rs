//! The monitor listener (docs/OPERATIONS.md) of a real broker: `/metrics`
//! read by Prometheus's own parser (`promtool check metrics`) and by ours,
//! `/healthz` and `/readyz` through an upstream that goes away and comes
//! back, `/connz` and `stats` listing the subscribers, and the live page's
//! event stream.

mod connz;
mod metrics;
mod ready;
mod stream;

use std::collections::BTreeMap;

use crate::oran::http::{self, Response};
use crate::util::Broker;

/// The monitor's address in the ready line.
pub fn address(broker: &Broker) -> String {
    broker
        .endpoints
        .monitor
        .clone()
        .expect("monitor= in the ready line")
}

pub fn get(broker: &Broker, path: &str) -> Response {
    http::get(&address(broker), path)
}

/// One sample: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// The samples of a text exposition (our own reading; promtool is the
/// judge of the format).
pub fn samples(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("NAME VALUE");
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("labels end with }");
                let mut labels = BTreeMap::new();
                // Values here hold no `",` (addresses and ids): split on it.
                for pair in body.split("\",").filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once("=\"").expect("k=\"v\"");
                    labels.insert(k.to_owned(), v.trim_end_matches('"').to_owned());
                }
                (name.to_owned(), labels)
            }
        };
        let value = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("value in {line:?}")),
        };
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    out
}

/// The value of the one sample of `name` whose labels include `labels`.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).is_some_and(|x| x == v))
        })
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} matches {found:?}");
    found.first().map(|s| s.value)
}

/// The broker's metrics now.
pub fn scrape(broker: &Broker) -> Vec<Sample> {
    let answer = get(broker, "/metrics");
    assert_eq!(answer.status, 200, "{answer}");
    samples(&answer.text())
}
