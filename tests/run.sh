#!/bin/sh
# The whole test suite, as the README tells a new user to run it and as CI
# runs it (.ci/run): installs the system packages the benchmark smoke test
# needs (libzmq3-dev, nats-server; apt, once), then formatting, lints and
# every test of the workspace.
set -eu
cd "$(dirname "$0")/.."
tests/bench/install-deps.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# The end-to-end tests and the benchmark smoke test start these as processes.
cargo build --workspace --bins --examples
cargo test --workspace
