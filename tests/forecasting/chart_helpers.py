"""Reading a page's charts as the browser does: the JSON data island of each canvas."""

import html
import json
import re

ISLAND = re.compile(
    r'<script id="(?P<id>[^"]+)" type="application/json">(?P<data>.*?)</script>', re.S
)
CANVAS = re.compile(r'<canvas data-chart="(?P<id>[^"]+)" role="img" aria-label="(?P<label>[^"]*)"')


def charts_of(page: str) -> dict[str, dict]:
    """``{island id: chart config}`` of every chart drawn on ``page``."""
    drawn = {m["id"]: html.unescape(m["label"]) for m in CANVAS.finditer(page)}
    found = {}
    for m in ISLAND.finditer(page):
        if m["id"] in drawn:
            config = json.loads(m["data"])
            config["_aria_label"] = drawn[m["id"]]
            found[m["id"]] = config
    return found


def assert_readable(page: str, config: dict):
    """A chart as every page must show it: its title as a heading, its caption under it,
    both axes named, its text alternative on the canvas, and no smoothed line."""
    assert config["title"] and config["caption"]
    assert f">{html.escape(config['title'])}</h" in page
    assert f'<p class="chart-caption">{html.escape(config["caption"])}</p>' in page
    assert config["axes"]["category"] and config["axes"]["value"]
    assert config["_aria_label"] == config["summary"]
    assert config["summary"].startswith(config["title"] + ".")
    for ds in config["datasets"]:
        assert ds.get("tension", 0) == 0
