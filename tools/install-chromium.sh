#!/usr/bin/env bash
# Install Debian's chromium for the HTML report's browser test (tests/integration/
# test_reporting_browser.py). Idempotent: does nothing when chromium is already on PATH.
# The test skips with a clear reason when chromium is absent; CI decides whether to run this.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  echo "[install-chromium] chromium already installed: $(command -v chromium || command -v chromium-browser)"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
echo "[install-chromium] installed: $(command -v chromium)"
