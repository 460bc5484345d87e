#!/usr/bin/env bash
# System packages the browser tests need: Debian's chromium (Playwright's own browser download cannot work offline).
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium >/dev/null
fi
