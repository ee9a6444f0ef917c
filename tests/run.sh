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
# The fuzz targets (tests/fuzz, outside the workspace) must keep compiling;
# running them is tests/fuzz/run.sh, which takes minutes per target.
cargo fmt --manifest-path tests/fuzz/Cargo.toml --check
cargo check --quiet --manifest-path tests/fuzz/Cargo.toml --bins
# The end-to-end tests and the benchmark smoke test start these as processes.
cargo build --workspace --bins --examples
cargo test --workspace
