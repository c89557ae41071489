#!/usr/bin/env bash
# Install Prometheus from Debian (the package ships `prometheus` and `promtool`)
# for the game-day tests: generated alert rules are checked with
# `promtool check rules`, and the rehearsal test starts a real Prometheus on
# loopback that scrapes the emulator's /metrics.
#
# Idempotent: does nothing when both are on PATH. Any failure prints a loud
# warning and exits 0 so the rest of CI still runs; those tests then skip, loudly.
# The package's own service is not needed (tests start their own server).
set -u

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
    echo ".ci/prometheus.sh: Prometheus already installed ($(prometheus --version 2>&1 | head -1))"
    exit 0
fi

warn() {
    echo "==================================================================" >&2
    echo "WARNING (.ci/prometheus.sh): $*" >&2
    echo "The promtool and Prometheus game-day tests will be SKIPPED in this run." >&2
    echo "==================================================================" >&2
    exit 0
}

SUDO=""
if [ "$(id -u)" != "0" ]; then
    command -v sudo >/dev/null 2>&1 || warn "not root and no sudo: cannot apt-get install"
    SUDO="sudo"
fi
command -v apt-get >/dev/null 2>&1 || warn "no apt-get on this machine"
$SUDO apt-get update -qq || warn "apt-get update failed"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus \
    || warn "apt-get install prometheus failed"
echo ".ci/prometheus.sh: installed $(prometheus --version 2>&1 | head -1)"
