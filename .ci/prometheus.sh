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

CI_SCRIPT=.ci/prometheus.sh
CI_SKIPS="The promtool and Prometheus game-day tests will be SKIPPED in this run."
# shellcheck source=.ci/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || { echo "WARNING ($CI_SCRIPT): .ci/lib.sh missing; $CI_SKIPS" >&2; exit 0; }

ci_apt_update
ci_apt_install --no-install-recommends prometheus
echo ".ci/prometheus.sh: installed $(prometheus --version 2>&1 | head -1)"
