#!/usr/bin/env bash
# System packages the browser tests need: Debian's chromium (Playwright's own browser download cannot work offline).
set -euo pipefail
# fonts-wqy-microhei: a CJK font, so the zh-CN pages (and the README screenshots) show Chinese, not boxes.
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk"; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
fi
