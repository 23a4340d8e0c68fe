"""A web worker starts without loading what only a nightly job needs: scikit-learn (seconds
of import time) is imported where a model is trained, never by the URL conf or the pages."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_url_conf_does_not_import_scikit_learn():
    code = (
        "import sys, django; django.setup(); import config.urls, config.wsgi; "
        "print('sklearn' in sys.modules)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "OPPORTUNE_DEV": "1"}
    out = subprocess.run(  # noqa: S603 - the test's own interpreter and code
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        check=True, timeout=120,
    )  # fmt: skip
    assert out.stdout.strip().splitlines()[-1] == "False"
