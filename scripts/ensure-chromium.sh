#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard browser test (tests/dashboard.browser.test.ts).
# Idempotent: does nothing when /usr/bin/chromium already runs. Why Debian's package: the machine
# reaches only the npm registry and Debian's archive, so `npx playwright install` cannot download
# a browser build; playwright-core drives this one through executablePath.
set -euo pipefail

CHROMIUM="${GRID_CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ] && "$CHROMIUM" --version >/dev/null 2>&1; then
  echo "chromium present: $("$CHROMIUM" --version 2>/dev/null | head -1)"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

echo "installing chromium from the Debian archive..."
export DEBIAN_FRONTEND=noninteractive
# The package lists may be missing or stale on a fresh machine; update once, then install.
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null

if ! "$CHROMIUM" --version >/dev/null 2>&1; then
  echo "chromium was installed but $CHROMIUM does not run" >&2
  exit 1
fi
echo "chromium installed: $("$CHROMIUM" --version 2>/dev/null | head -1)"
