"""Static files survive production post-processing: ``collectstatic`` with the hashed,
compressed storage the image uses, on a clean folder, fails on nothing.

Django's manifest storage rewrites every ``url()`` and ``sourceMappingURL`` it finds and stops
on one that points at a missing file; without the manifest every page of a production server
answers 500. The vendored npm files are the usual culprit (a source map the copy left behind).
"""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VENDOR = BASE_DIR / "static" / "vendor"
MAP_REF = re.compile(r"^[ \t]*/[/*][#@][ \t]*sourceMappingURL=(\S+?)[ \t]*(?:\*/)?[ \t]*$", re.M)


def _production_env(static_root: Path) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "OPPORTUNE_DEV", "STATICFILES_BACKEND", "WHITENOISE_USE_FINDERS"}
    }
    env.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        STATIC_ROOT=str(static_root),
        DATABASE_URL="sqlite:////tmp/opportune-collectstatic-probe.sqlite3",
        REDIS_URL="",
    )
    return env


def test_vendor_files_name_only_source_maps_that_were_copied():
    files = sorted(VENDOR.glob("*.js")) + sorted(VENDOR.glob("*.css"))
    assert files, "static/vendor/ is empty: run `make assets`"
    for path in files:
        for ref in MAP_REF.findall(path.read_text(encoding="utf-8", errors="replace")):
            assert (path.parent / ref).is_file(), f"{path.name} names {ref}, which is missing"


def test_collectstatic_with_production_storage_on_a_clean_tree(tmp_path):
    static_root = tmp_path / "staticfiles"
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input"],
        cwd=BASE_DIR,
        env=_production_env(static_root),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "failed" not in (result.stdout + result.stderr).lower()
    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    expected = ["img/favicon.svg", "css/app.css", "js/app.js", "admin/css/base.css"]
    expected += ["vendor/htmx.min.js", "vendor/chart.umd.js", "vendor/Sortable.min.js"]
    for name in expected:
        assert name in manifest, f"{name} has no manifest entry"
        hashed = static_root / manifest[name]
        assert hashed.is_file() and hashed.name != Path(name).name
    # The large vendored scripts are stored compressed too, for whitenoise to serve.
    assert (static_root / f"{manifest['vendor/chart.umd.js']}.gz").is_file()
