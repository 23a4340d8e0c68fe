"""Content-Security-Policy: every response carries the strict policy, and no page holds
anything the policy would block (inline <script> or <style>, style="" or on*="" attributes,
javascript: links, htmx expressions that need eval). The browser tests check the same pages
in Chromium; this is the cheap guard that names the page and the markup at fault."""

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.core.management import call_command
from django.template.loader import get_template
from django.test import Client

from accounts.models import User
from config.csp import ADMIN_POLICY_UPDATE
from pipeline.models import Company, Contact, Lead, Opportunity, Stage
from scripts.main_pages import ADMIN_ONLY_PAGES, FORECAST_PAGES

ROOT = Path(__file__).resolve().parents[1]
DEMO_PASSWORD = "demo-pass-2026"

STRICT_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def _policy(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']}: no Content-Security-Policy header"
    directives = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value
    return directives


TEMPLATE_COMMENT = re.compile(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", re.DOTALL)


class _InlineCode(HTMLParser):
    """Collects every piece of markup the policy would refuse."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        where = f"<{tag} {' '.join(k for k, _ in attrs)}>"
        if tag == "style":
            self.problems.append(f"inline <style>: {where}")
        if tag == "script" and not values.get("src") and values.get("type") != "application/json":
            self.problems.append(f"inline <script> (neither src nor json_script): {where}")
        for name, value in attrs:
            value = (value or "").strip()
            if name == "style":
                self.problems.append(f'style="{value}" on {where}')
            elif name.startswith("on"):
                self.problems.append(f'event handler {name}="{value}" on {where}')
            elif name.startswith(("hx-on", "data-hx-on")):
                self.problems.append(f"htmx handler {name} (needs eval) on {where}")
            elif name in ("hx-vals", "hx-vars") and value.startswith("js:"):
                self.problems.append(f"htmx {name} expression (needs eval) on {where}")
            elif name == "hx-trigger" and "[" in value:
                self.problems.append(f"htmx trigger filter (needs eval) on {where}")
            elif name in ("href", "src", "action", "formaction") and value.lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"javascript: URL in {name} on {where}")


def inline_code(html: str) -> list[str]:
    parser = _InlineCode()
    parser.feed(html)
    parser.close()
    return parser.problems


def _check_pages(client: Client, paths: list[str]) -> dict[str, list[str]]:
    found = {}
    for path in paths:
        response = client.get(path)
        problems = []
        if response.status_code != 200:
            problems.append(f"status {response.status_code}")
        policy = _policy(response)
        if policy != STRICT_POLICY:
            problems.append(f"policy {policy}")
        if response["Content-Type"].startswith("text/html"):
            problems += inline_code(response.content.decode())
        if problems:
            found[path] = problems
    return found


@pytest.fixture
def demo(db):
    call_command("seed_demo", opportunities=150, seed=3, verbosity=0)


def _login(username: str) -> Client:
    from accounts.models import User

    client = Client()
    user = User.objects.get(username=username)
    assert user.check_password(DEMO_PASSWORD)
    client.force_login(user)  # sign-in throttling needs a request; the form is tested elsewhere
    return client


def test_inline_code_finds_what_the_policy_blocks():
    html = (
        '<p style="color:red">x</p><style>p{}</style><script>alert(1)</script>'
        '<button onclick="go()">go</button><a href=" javascript:go()">go</a>'
        '<div hx-on:click="go()"></div><div hx-vals="js:{a: 1}"></div>'
        "<input hx-trigger=\"keyup[key=='Enter']\">"
        '<script type="application/json" id="d">{"a": 1}</script>'
        '<script src="/static/js/app.js" defer></script><p>style="not an attribute"</p>'
    )
    problems = inline_code(html)
    assert len(problems) == 8, problems


@pytest.mark.django_db
def test_csp_manager_pages_send_the_policy_and_keep_it(demo):
    manager = User.objects.get(username="manager1")
    deal = Opportunity.objects.visible_to(manager).filter(stage__kind="open").first()
    closed = Opportunity.objects.visible_to(manager).exclude(stage__kind="open").first()
    company = Company.objects.visible_to(manager).first()
    contact = Contact.objects.visible_to(manager).first()
    lead = Lead.objects.visible_to(manager).filter(status=Lead.Status.PROSPECT).first()
    stage = Stage.objects.filter(kind="open", pipeline=deal.pipeline).first()
    rep = User.objects.get(username="rep1")
    paths = [
        "/",
        "/pipeline/board/",
        f"/pipeline/board/column/{stage.pk}/",
        "/pipeline/opportunities/",
        "/pipeline/opportunities/new/",
        deal.get_absolute_url(),
        closed.get_absolute_url(),
        f"/pipeline/opportunities/{deal.pk}/edit/",
        f"/pipeline/opportunities/{deal.pk}/move/",
        f"/pipeline/opportunities/{deal.pk}/won/",
        f"/pipeline/opportunities/{deal.pk}/lost/",
        "/pipeline/leads/",
        "/pipeline/leads/new/",
        lead.get_absolute_url(),
        f"/pipeline/leads/{lead.pk}/edit/",
        f"/pipeline/leads/{lead.pk}/disqualify/",
        "/pipeline/companies/",
        "/pipeline/companies/new/",
        company.get_absolute_url(),
        f"/pipeline/companies/{company.pk}/edit/",
        "/pipeline/contacts/",
        "/pipeline/contacts/new/",
        contact.get_absolute_url(),
        f"/pipeline/contacts/{contact.pk}/edit/",
        "/pipeline/tasks/",
        f"/pipeline/search/?q={company.name.split()[0]}",
        *FORECAST_PAGES,
        "/forecasting/deals/",
        f"/forecasting/adjust/?rep={rep.pk}",
        f"/forecasting/reports/scorecards/{rep.pk}/",
        "/forecasting/reports/deals/",
    ]
    found = _check_pages(_login("manager1"), paths)
    found |= _check_pages(_login("admin"), ADMIN_ONLY_PAGES)
    assert not found, "\n".join(f"{p}:\n  " + "\n  ".join(v) for p, v in found.items())


@pytest.mark.django_db
def test_csp_rep_pages_and_error_pages_keep_the_policy(demo):
    rep = User.objects.get(username="rep1")
    deal = Opportunity.objects.filter(owner=rep, stage__kind="open").first()
    lead = Lead.objects.filter(owner=rep, status=Lead.Status.PROSPECT).first()
    client = _login("rep1")
    paths = ["/", "/pipeline/board/", deal.get_absolute_url(), "/pipeline/tasks/"]
    if lead is not None:
        paths.append(f"/pipeline/leads/{lead.pk}/convert/")
    found = _check_pages(client, paths)
    assert not found, "\n".join(f"{p}:\n  " + "\n  ".join(v) for p, v in found.items())
    # Error pages: a page that is not there, and a deal the rep may not see.
    other = Opportunity.objects.exclude(owner__team=rep.team).first()
    for path in ("/no-such-page/", other.get_absolute_url()):
        response = client.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert _policy(response) == STRICT_POLICY, path
        assert not inline_code(response.content.decode()), path


def test_csp_login_page_and_server_error_page_keep_the_policy(db):
    response = Client().get("/accounts/login/")
    assert _policy(response) == STRICT_POLICY
    assert not inline_code(response.content.decode())
    # The stand-alone 500 page (Django renders it without a context).
    assert not inline_code(get_template("500.html").render())


@pytest.mark.django_db
def test_csp_admin_gets_only_the_hashed_style_attribute(admin_user):
    client = Client()
    client.force_login(admin_user)
    for path in ("/admin/", "/admin/pipeline/opportunity/", "/admin/login/"):
        policy = _policy(client.get(path))
        extra = " ".join(ADMIN_POLICY_UPDATE["style-src-attr"])
        assert policy == {**STRICT_POLICY, "style-src-attr": extra}, path
    assert "'unsafe-inline'" not in extra and "'unsafe-eval'" not in extra


def test_csp_report_only_switch_sends_the_same_policy_as_a_report():
    code = (
        "from django.conf import settings; import django; django.setup(); "
        "print(settings.CONTENT_SECURITY_POLICY, "
        "settings.CONTENT_SECURITY_POLICY_REPORT_ONLY['DIRECTIVES']['report-uri'])"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "OPPORTUNE_DEV": "1",
        "CSP_REPORT_ONLY": "1",
        "CSP_REPORT_URI": "/csp-report/",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["None", "/csp-report/"]


def test_csp_templates_hold_no_inline_code():
    """Every template file, including partials no page test reaches with every branch on:
    the project's, the apps' and the Jinja2 card partial's."""
    found = {}
    paths = [*ROOT.glob("templates/**/*.html"), *ROOT.glob("*/templates/**/*.html")]
    paths += ROOT.glob("*/jinja2/**/*.html")
    for path in sorted(set(paths)):
        problems = inline_code(TEMPLATE_COMMENT.sub("", path.read_text()))
        if problems:
            found[str(path.relative_to(ROOT))] = problems
    assert not found, found
