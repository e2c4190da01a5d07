#!/usr/bin/env bash
# Install Debian's chromium and chromium-driver for the browser tests (tests/integration/
# test_reporting_browser.py: chromium; test_portal_browser.py: Selenium through chromium-driver).
# Idempotent: installs only what is missing. The tests skip with a clear reason when either is
# absent; CI decides whether to run this.
set -euo pipefail
missing=()
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  missing+=(chromium fonts-dejavu-core)
fi
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ "${#missing[@]}" -eq 0 ]; then
  echo "[install-chromium] chromium and chromium-driver already installed:" \
    "$(command -v chromium || command -v chromium-browser), $(command -v chromedriver)"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "[install-chromium] installed: ${missing[*]}"
