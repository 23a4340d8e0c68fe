"""Production smoke test: Opportune as an operator runs it, checked over HTTP.

`make smoke` (and CI, after the test suite) runs this. It starts every process through
``scripts/entrypoint.sh``, the entrypoint of the Docker image and of docker-compose, with
production settings: DEBUG and OPPORTUNE_DEV unset, a random SECRET_KEY, the hashed and
compressed static files of ``collectstatic``, PostgreSQL, and Redis as the broker. Then:

1. migrate a fresh PostgreSQL database and collect the static files into a clean folder;
2. seed a small demo (``OPPORTUNE_DEV=1`` for that step alone);
3. start gunicorn (2 workers) on a loopback port, a Celery worker and Celery beat;
4. sign in through the login form as an admin, a manager and a rep, load every main page as
   each (200, HTML) and every static file they reference (200, the right content type,
   hashed names, compressed where whitenoise compresses, cached for a year);
5. move a deal through its move form, run the nightly snapshot through the worker, and read
   ``/healthz``;
6. stop everything it started and drop its database (``SMOKE_KEEP=1`` keeps both the
   database and the log folder for a look).

Environment: ``SMOKE_DATABASE_URL`` (default: a database ``opportune_smoke`` on the local
server, dropped and created anew), ``SMOKE_REDIS_URL`` (default Redis db 15), ``SMOKE_PORT``
(default: a free port). Exit status 0 when every check passed.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scripts.main_pages import ADMIN_ONLY_PAGES, FORECAST_PAGES, WORK_PAGES  # noqa: E402

ENTRYPOINT = str(ROOT / "scripts" / "entrypoint.sh")
PASSWORD = "demo-pass-2026"
USERS = {"admin": "admin", "manager": "manager1", "rep": "rep1"}
PAGES = WORK_PAGES + FORECAST_PAGES
ADMIN_PAGES = [*ADMIN_ONLY_PAGES, "/admin/", "/admin/pipeline/pipeline/", "/admin/accounts/user/"]
PRODUCTION_UNSET = {"DEBUG", "OPPORTUNE_DEV", "STATICFILES_BACKEND", "WHITENOISE_USE_FINDERS"}
CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".svg": ("image/svg+xml",),
    ".png": ("image/png",),
    ".woff2": ("font/woff2",),
}
HASHED = re.compile(r"\.[0-9a-f]{12}\.[a-z0-9]+$")


class Failed(Exception):
    pass


class Smoke:
    def __init__(self) -> None:
        self.checks = 0
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.logs = Path(tempfile.mkdtemp(prefix="opportune-smoke-"))
        self.static_root = self.logs / "staticfiles"
        server = os.environ.get("SMOKE_PG", "postgres://postgres@127.0.0.1:5432")
        self.database_url = os.environ.get("SMOKE_DATABASE_URL", f"{server}/opportune_smoke")
        self.redis_url = os.environ.get("SMOKE_REDIS_URL", "redis://127.0.0.1:6379/15")
        self.port = int(os.environ.get("SMOKE_PORT") or free_port())
        self.base = f"http://127.0.0.1:{self.port}"
        bin_dir = str(Path(sys.executable).parent)
        self.env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_UNSET}
        self.env.update(
            PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHON=sys.executable,
            SECRET_KEY=secrets.token_urlsafe(50),
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            STATIC_ROOT=str(self.static_root),
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
            WEB_CONCURRENCY="2",
            CELERY_CONCURRENCY="1",
            # Plain HTTP on loopback: the transport-security defaults (HTTPS redirect, secure
            # cookies, HSTS) are switched off by their variables, as an operator testing
            # without TLS would.
            SECURE_SSL_REDIRECT="0",
            SESSION_COOKIE_SECURE="0",
            CSRF_COOKIE_SECURE="0",
            SECURE_HSTS_SECONDS="0",
            PYTHONUNBUFFERED="1",
        )

    # --- processes --------------------------------------------------------------------------
    def run(self, *args: str, dev: bool = False, timeout: int = 600) -> str:
        env = dict(self.env, OPPORTUNE_DEV="1") if dev else self.env
        print(f"$ {' '.join(args)}", flush=True)
        done = subprocess.run(
            [ENTRYPOINT, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
        output = done.stdout + done.stderr
        if done.returncode != 0:
            raise Failed(f"`{' '.join(args)}` exited {done.returncode}:\n{output[-4000:]}")
        return output

    def start(self, name: str) -> None:
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            [ENTRYPOINT, name], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.procs.append((name, proc))
        print(f"started {name} (pid {proc.pid}, log {self.logs / f'{name}.log'})", flush=True)

    def alive(self, name: str) -> None:
        for proc_name, proc in self.procs:
            if proc_name == name and proc.poll() is not None:
                raise Failed(f"{name} exited with {proc.returncode}:\n{self.tail(name)}")
        self.ok(f"{name} is running")

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop_all(self) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            print(f"stopped {name}", flush=True)

    # --- database ---------------------------------------------------------------------------
    def database(self, action: str) -> None:
        import psycopg

        server, name = self.database_url.rsplit("/", 1)
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if action == "create":
                conn.execute(f'CREATE DATABASE "{name}"')

    def flush_redis(self) -> None:
        import redis

        redis.Redis.from_url(self.redis_url, socket_connect_timeout=3).flushdb()

    # --- checks -----------------------------------------------------------------------------
    def ok(self, what: str) -> None:
        self.checks += 1
        print(f"  ok  {what}", flush=True)

    def wait_for_web(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs:
                if name == "web" and proc.poll() is not None:
                    raise Failed(f"gunicorn exited with {proc.returncode}:\n{self.tail('web')}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as response:  # nosec B310: an http:// URL of the loopback server this script started
                    if response.status == 200:
                        self.ok("gunicorn answers /healthz")
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        raise Failed(f"gunicorn did not answer within {timeout:.0f}s:\n{self.tail('web')}")


class Session:
    """One signed-in browser: a cookie jar, no redirects followed unless asked."""

    def __init__(self, smoke: Smoke) -> None:
        self.smoke = smoke
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()
        )

    def request(self, path: str, data: dict | None = None, headers: dict | None = None):
        url = path if path.startswith("http") else self.smoke.base + path
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body, headers=headers or {})
        if body is not None:
            request.add_header("Referer", url)
        try:
            response = self.opener.open(request, timeout=30)
        except urllib.error.HTTPError as error:
            response = error
        with response:
            return response.status, response.headers, response.read()

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.jar if c.name == name), "")

    def login(self, username: str) -> None:
        status, _, body = self.request("/accounts/login/")
        expect(status == 200, f"login page answers 200, got {status}")
        token = Page(body).inputs.get("csrfmiddlewaretoken") or self.cookie("csrftoken")
        status, headers, body = self.request(
            "/accounts/login/",
            {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        )
        expect(
            status == 302 and headers.get("Location") in ("/", f"{self.smoke.base}/"),
            f"{username} signs in through the form (got {status} → {headers.get('Location')}): "
            f"{body[:300]!r}",
        )
        self.smoke.ok(f"{username} signs in through the login form")

    def page(self, path: str) -> Page:
        status, headers, body = self.request(path)
        expect(status == 200, f"{path} answers 200, got {status}: {body[:300]!r}")
        kind = headers.get("Content-Type", "")
        expect(kind.startswith("text/html"), f"{path} is HTML, got {kind}")
        expect(
            "gunicorn" not in headers.get("Server", "").lower(),
            f"{path} names its server: {headers.get('Server')}",
        )
        return Page(body)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Page(HTMLParser):
    """The parts of a page the smoke test follows: static assets, links and form inputs."""

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.assets: set[str] = set()
        self.links: list[str] = []
        self.inputs: dict[str, str] = {}
        self.options: dict[str, list[tuple[str, str]]] = {}
        self._select: str | None = None
        self._option: str | None = None
        self.text = body.decode("utf-8", errors="replace")
        self.feed(self.text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for key in ("src", "href"):
            if a.get(key, "").startswith("/static/"):
                self.assets.add(a[key])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "input" and a.get("name"):
            self.inputs.setdefault(a["name"], a.get("value", ""))
        if tag == "select":
            self._select = a.get("name")
            self.options.setdefault(self._select or "", [])
        if tag == "option" and self._select is not None:
            self._option = a.get("value", "")
            if "selected" in a:
                self.inputs.setdefault(self._select, self._option)

    def handle_data(self, data: str) -> None:
        if self._option is not None and self._select is not None:
            self.options[self._select].append((self._option, data.strip()))
            self._option = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_assets(smoke: Smoke, session: Session, assets: set[str], seen: set[str]) -> None:
    for asset in sorted(assets - seen):
        seen.add(asset)
        status, headers, body = session.request(asset, headers={"Accept-Encoding": "gzip"})
        expect(status == 200, f"{asset} answers 200, got {status}")
        suffix = Path(urllib.parse.urlparse(asset).path).suffix
        kind = headers.get("Content-Type", "").split(";")[0]
        expect(kind in CONTENT_TYPES.get(suffix, (kind,)), f"{asset} served as {kind}")
        expect(bool(HASHED.search(asset)), f"{asset} has no content hash in its name")
        expect("immutable" in headers.get("Cache-Control", ""), f"{asset} is not cached for long")
        # Whitenoise keeps a .gz beside a file only where compressing saves enough; each such
        # file must then be served compressed to a client that accepts it.
        relative = urllib.parse.urlparse(asset).path.removeprefix("/static/")
        if (smoke.static_root / f"{relative}.gz").exists():
            expect(
                headers.get("Content-Encoding") == "gzip",
                f"{asset} is not served compressed ({headers.get('Content-Encoding')})",
            )
        elif suffix in (".js", ".css") and len(body) > 10_000:
            raise Failed(f"{asset} ({len(body):,} bytes) has no compressed copy")
        smoke.ok(f"{asset} ({kind}, {len(body):,} bytes {headers.get('Content-Encoding', '')})")


def move_a_deal(smoke: Smoke, session: Session) -> None:
    board = session.page("/pipeline/board/")
    deal = next((h for h in board.links if re.fullmatch(r"/pipeline/opportunities/\d+/", h)), None)
    expect(deal is not None, "the rep's board links to a deal")
    move_page = session.page(f"{deal}move/")
    current = move_page.inputs.get("stage")
    choices = [v for v, label in move_page.options.get("stage", []) if v and v != current]
    open_choices = [v for v, label in move_page.options["stage"] if v in choices and "Won" not in
                    label and "Lost" not in label] or choices  # fmt: skip
    expect(bool(open_choices), f"{deal}move/ offers another stage")
    form = {
        "csrfmiddlewaretoken": move_page.inputs["csrfmiddlewaretoken"],
        "version": move_page.inputs["version"],
        "stage": open_choices[0],
        "lost_reason": "",
        "lost_note": "",
    }
    status, headers, body = session.request(f"{deal}move/", form)
    expect(status == 302, f"moving {deal} redirects, got {status}: {body[:500]!r}")
    after = session.page(f"{deal}move/")
    expect(after.inputs.get("stage") == open_choices[0], f"{deal} is in its new stage")
    expect(int(after.inputs["version"]) == int(form["version"]) + 1, f"{deal} version went up")
    smoke.ok(f"the rep moved {deal} through its move form")


def snapshot_through_worker(smoke: Smoke) -> None:
    code = (
        "from django.utils import timezone\n"
        "from forecasting.models import ForecastSnapshot\n"
        "from forecasting.tasks import snapshot_forecasts\n"
        "result = snapshot_forecasts.delay()\n"
        "outcome = result.get(timeout=180)\n"
        "rows = ForecastSnapshot.objects.filter(taken_on=timezone.localdate()).count()\n"
        "print('SNAPSHOT', outcome['rows'], rows)\n"
    )
    output = smoke.run("python", "manage.py", "shell", "-c", code, timeout=240)
    found = re.search(r"SNAPSHOT (\d+) (\d+)", output)
    expect(bool(found), f"the snapshot task gave no result:\n{output[-2000:]}")
    task_rows, stored = int(found.group(1)), int(found.group(2))
    expect(task_rows > 0 and task_rows == stored, f"snapshot rows: task {task_rows}, db {stored}")
    expect("snapshot_forecasts" in smoke.tail("worker", 400), "the worker logged the task")
    smoke.ok(f"the worker took today's forecast snapshot ({stored} rows)")


def main() -> int:
    smoke = Smoke()
    started = time.monotonic()
    try:
        print(f"database {smoke.database_url}, broker {smoke.redis_url}, web {smoke.base}")
        smoke.database("create")
        smoke.flush_redis()
        output = smoke.run("collectstatic")
        expect((smoke.static_root / "staticfiles.json").exists(), "collectstatic wrote a manifest")
        smoke.ok(f"collectstatic: {output.strip().splitlines()[-1]}")
        smoke.run("migrate")
        smoke.ok("migrations applied to a fresh database")
        output = smoke.run(
            "python", "manage.py", "seed_demo", "--opportunities", "300", "--no-snapshots",
            dev=True,
        )  # fmt: skip
        smoke.ok(f"demo seeded: {output.strip().splitlines()[-1]}")
        for name in ("web", "worker", "beat"):
            smoke.start(name)
        smoke.wait_for_web()

        seen_assets: set[str] = set()
        for role, username in USERS.items():
            session = Session(smoke)
            session.login(username)
            pages = PAGES + (ADMIN_PAGES if role == "admin" else [])
            for path in pages:
                page = session.page(path)
                smoke.ok(f"{role}: {path}")
                check_assets(smoke, session, page.assets, seen_assets)
            deal = next(
                (h for h in session.page("/pipeline/opportunities/").links
                 if re.fullmatch(r"/pipeline/opportunities/\d+/", h)),
                None,
            )  # fmt: skip
            expect(deal is not None, f"{role}'s deal list links to a deal")
            check_assets(smoke, session, session.page(deal).assets, seen_assets)
            smoke.ok(f"{role}: {deal}")
            if role == "rep":
                move_a_deal(smoke, session)
        expect(len(seen_assets) >= 5, f"pages referenced only {len(seen_assets)} static files")

        snapshot_through_worker(smoke)
        status, _, body = Session(smoke).request("/healthz")
        health = json.loads(body)
        expect(status == 200 and health["status"] == "ok", f"/healthz: {status} {health}")
        expect(health["broker"]["mode"] == "redis", f"/healthz broker: {health['broker']}")
        smoke.ok(f"/healthz: {health['status']} (database {health['database']['vendor']})")
        for name in ("web", "worker", "beat"):
            smoke.alive(name)
        expect("beat: Starting" in smoke.tail("beat", 200), "beat did not start its scheduler")
    except Failed as failure:
        print(f"\nSMOKE TEST FAILED: {failure}", file=sys.stderr)
        for name, _ in smoke.procs:
            print(f"\n--- {name} log (last lines) ---\n{smoke.tail(name)}", file=sys.stderr)
        return 1
    finally:
        smoke.stop_all()
        if os.environ.get("SMOKE_KEEP") != "1":
            smoke.database("drop")
            shutil.rmtree(smoke.logs, ignore_errors=True)
        else:
            print(f"kept database {smoke.database_url} and logs in {smoke.logs}")
    print(
        f"\nProduction smoke test OK: {smoke.checks} checks in {time.monotonic() - started:.0f}s "
        "(gunicorn, Celery worker and beat with DEBUG off)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
