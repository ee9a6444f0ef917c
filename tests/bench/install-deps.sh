#!/bin/sh
# Install the system packages the test suite and the benchmark peers need:
# the system libzmq (headers + library, for the C forwarder and subscribers),
# nats-server, prometheus (its promtool checks the /metrics exposition),
# chromium (the live page's browser test) and systemd (systemd-analyze
# verifies deploy/ptp-broker.service). Idempotent: apt runs only when a
# package is missing. Uses sudo when not root.
set -eu

packages="libzmq3-dev nats-server prometheus chromium systemd"
missing=""
for p in $packages; do
    if ! dpkg -s "$p" >/dev/null 2>&1; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    run=""
elif command -v sudo >/dev/null 2>&1; then
    run="sudo"
else
    echo "install-deps.sh: need root or sudo to install:$missing" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps.sh: apt-get not found; install by hand:$missing" >&2
    exit 1
fi
echo "install-deps.sh: installing$missing" >&2
$run apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $run apt-get install -y -qq --no-install-recommends $missing
