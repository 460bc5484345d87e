#!/usr/bin/env bash
# System packages the slow tests need, from Debian (no download works offline but the package mirror):
# - the browser tests: Debian's chromium (Playwright's own browser download cannot work offline);
#   fonts-wqy-microhei: a CJK font, so the zh-CN pages (and the README screenshots) show Chinese, not boxes.
# - the RTSP tests: GStreamer's RTSP server, run by Debian's /usr/bin/python3 with python3-gi (tests/rtsp_server.py;
#   the project's venv has no GObject bindings), and the plugins of its pipeline (jpegdec, x264enc, rtph264pay).
set -euo pipefail
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
need=()
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk"; then
  need+=(chromium fonts-wqy-microhei)
fi
if ! /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer" \
     >/dev/null 2>&1 || ! gst-inspect-1.0 x264enc >/dev/null 2>&1 || ! gst-inspect-1.0 rtph264pay >/dev/null 2>&1; then
  need+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools gstreamer1.0-plugins-base
         gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly)
fi
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
