"""Every text of the pages has zh-CN and English, and every key the pages use is in the dictionary (fast)."""

from __future__ import annotations

import json
import re
from pathlib import Path

DASH = Path(__file__).resolve().parents[2] / "dashboard"


def test_every_key_has_both_languages_and_every_used_key_exists() -> None:
    d = json.loads((DASH / "i18n.json").read_text(encoding="utf-8"))
    missing = [k for k, v in d.items() if not v.get("zh") or not v.get("en")]
    assert not missing, f"keys without zh or en: {missing}"
    used: set[str] = set()
    for f in [*DASH.glob("*.html"), *DASH.glob("m/*.html"), *DASH.glob("js/**/*.js")]:
        text = f.read_text(encoding="utf-8")
        used |= set(re.findall(r"data-i18n(?:-placeholder|-title)?=\"([\w.]+)\"", text))
        used |= set(re.findall(r"\bt\('([\w.]+)'", text))
    assert used, "no keys found: the pattern is out of date"
    assert not sorted(used - set(d)), f"used but not in i18n.json: {sorted(used - set(d))}"


def test_pages_load_nothing_from_outside() -> None:
    for f in [*DASH.glob("*.html"), *DASH.glob("m/*.html"), *DASH.glob("js/**/*.js"), DASH / "sw.js",
              DASH / "css/app.css"]:
        assert not re.search(r"(src|href)=\"https?://|url\(https?://|import .* from 'https?://",
                             f.read_text(encoding="utf-8")), f
