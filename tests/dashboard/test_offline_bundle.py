"""The vendored plotly.js bundle names no remote server a default could fetch from (assets/vendor/plotly/offline.mjs)."""

import re
from pathlib import Path

BUNDLE = Path(__file__).resolve().parents[2] / "assets" / "vendor" / "plotly" / "plotly-wagemap.min.js"
OFFLINE = BUNDLE.with_name("offline.mjs")


def test_bundle_has_no_remote_style_tile_glyph_or_cdn_defaults():
    text = BUNDLE.read_text(encoding="utf-8")
    remote = re.findall(r"'(https://[^']+)'", OFFLINE.read_text(encoding="utf-8"))
    assert len(remote) >= 9
    for url in remote:
        assert url not in text, url
    hosts = set(re.findall(r"https?://([a-z0-9.-]+)", text))
    fetchable = {h for h in hosts if re.search(r"cdn|tile|fonts\.|arcgis|icgc", h)}
    assert not fetchable, fetchable
    assert "/assets/vendor/plotly/offline/fonts.openmaptiles.org/" in text  # the glyph default, made same-origin
