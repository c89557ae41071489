# Shared by the .ci/<component>.sh installers: sourced, never run on its own.
#
# The contract every installer keeps: a failure prints a loud warning naming
# what will be skipped and ends the script with exit 0, so the rest of CI still
# runs and the tests that need the component skip, naming it.
#
# Before sourcing, set:
#   CI_SCRIPT  the installer's name, e.g. ".ci/chromium.sh"
#   CI_SKIPS   the sentence saying what is skipped without it
# shellcheck shell=bash

ci_warn() {
    echo "==================================================================" >&2
    echo "WARNING (${CI_SCRIPT:-.ci}): $*" >&2
    echo "${CI_SKIPS:-Tests that need this component will be SKIPPED in this run.}" >&2
    echo "==================================================================" >&2
    exit 0
}

# ci_apt_update: find out how to run apt-get (as root, or through sudo) and
# refresh its package lists; warns and exits 0 when it cannot.
CI_SUDO=""
ci_apt_update() {
    if [ "$(id -u)" != "0" ]; then
        command -v sudo >/dev/null 2>&1 || ci_warn "not root and no sudo: cannot apt-get install"
        CI_SUDO="sudo"
    fi
    command -v apt-get >/dev/null 2>&1 || ci_warn "no apt-get on this machine"
    $CI_SUDO apt-get update -qq || ci_warn "apt-get update failed"
}

# ci_apt_install [apt-get install options] PACKAGE...: install non-interactively
# (after ci_apt_update); warns and exits 0 when it fails.
ci_apt_install() {
    DEBIAN_FRONTEND=noninteractive $CI_SUDO apt-get install -y -qq "$@" || ci_warn "apt-get install $* failed"
}
