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

CI_SCRIPT=.ci/libreoffice.sh
CI_SKIPS="The LibreOffice workbook test will be SKIPPED in this run."
# shellcheck source=.ci/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || { echo "WARNING ($CI_SCRIPT): .ci/lib.sh missing; $CI_SKIPS" >&2; exit 0; }

ci_apt_update
start=$(date +%s)
package=libreoffice-calc-nogui
apt-cache show "$package" >/dev/null 2>&1 || package=libreoffice-calc
ci_apt_install --no-install-recommends "$package"
command -v soffice >/dev/null 2>&1 || ci_warn "$package installed but soffice is not on PATH"
echo ".ci/libreoffice.sh: $package installed in $(( $(date +%s) - start )) s"
echo ".ci/libreoffice.sh: installed $(soffice --version 2>/dev/null | head -1)"
