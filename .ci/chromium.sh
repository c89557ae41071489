#!/usr/bin/env bash
# Install Chromium (Debian's `chromium` package) for the HTML report check
# (tests/lpuplan/test_render_html.py: the report opened headless, its DOM
# dumped, console errors looked for, a screenshot taken).
#
# Idempotent: does nothing when /usr/bin/chromium exists. Any failure prints a
# loud warning and exits 0 so the rest of CI still runs; the test then skips,
# naming chromium.
set -u

if [ -x /usr/bin/chromium ]; then
    echo ".ci/chromium.sh: chromium already installed"
    exit 0
fi

CI_SCRIPT=.ci/chromium.sh
CI_SKIPS="The headless-Chromium HTML report test will be SKIPPED in this run."
# shellcheck source=.ci/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || { echo "WARNING ($CI_SCRIPT): .ci/lib.sh missing; $CI_SKIPS" >&2; exit 0; }

ci_apt_update
start=$(date +%s)
ci_apt_install chromium
[ -x /usr/bin/chromium ] || ci_warn "chromium installed but /usr/bin/chromium is missing"
echo ".ci/chromium.sh: chromium installed in $(( $(date +%s) - start )) s: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
