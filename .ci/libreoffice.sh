#!/usr/bin/env bash
# Install LibreOffice Calc (headless) for the facility workbook check
# (tests/facility/test_xlsx_libreoffice.py: the rack-plan xlsx opened in a real
# spreadsheet engine with recalculation forced).
#
# Debian 12 (bookworm) ships LibreOffice 7.4 as `libreoffice-calc-nogui`: Calc
# without the GUI toolkits, all that `soffice --headless --convert-to` needs.
# Measured on the 2-core dev machine (Debian 12, warm apt mirror): see
# docs/performance.md ("LibreOffice in CI"). Falls back to `libreoffice-calc`
# on releases without the -nogui package.
#
# Idempotent: does nothing when soffice is already on PATH. Any failure prints a
# loud warning and exits 0 so the rest of CI still runs; the test then skips.
set -u

if command -v soffice >/dev/null 2>&1 || command -v libreoffice >/dev/null 2>&1; then
    echo ".ci/libreoffice.sh: LibreOffice already installed"
    exit 0
fi

warn() {
    echo "==================================================================" >&2
    echo "WARNING (.ci/libreoffice.sh): $*" >&2
    echo "The LibreOffice workbook test will be SKIPPED in this run." >&2
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
start=$(date +%s)
package=libreoffice-calc-nogui
apt-cache show "$package" >/dev/null 2>&1 || package=libreoffice-calc
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$package" \
    || warn "apt-get install $package failed"
command -v soffice >/dev/null 2>&1 || warn "$package installed but soffice is not on PATH"
echo ".ci/libreoffice.sh: $package installed in $(( $(date +%s) - start )) s"
echo ".ci/libreoffice.sh: installed $(soffice --version 2>/dev/null | head -1)"
