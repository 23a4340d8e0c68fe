"""Accessibility: axe-core (from npm, installed by the setup) checks the main pages of the
demo as a rep and as a manager. Any violation (of any impact) fails the test with the rule,
its help text and the elements involved.

axe is loaded the way the site's own scripts are, as a same-origin static file
(``static/vendor/axe.min.js``, copied there by ``make assets`` from the dev dependency), so
the pages keep their Content-Security-Policy while it runs."""

from pathlib import Path
from urllib.parse import urljoin

import pytest
from django.core.management import call_command
from django.templatetags.static import static

from accounts.models import User
from pipeline.models import Company, Contact, Lead, Opportunity
from scripts.main_pages import FORECAST_PAGES
from tests.e2e.conftest import login

AXE = Path(__file__).resolve().parents[2] / "static" / "vendor" / "axe.min.js"
DEMO_PASSWORD = "demo-pass-2026"


def _require_axe():
    if not AXE.exists():
        pytest.fail(
            f"{AXE} is missing: run `make install-dev` (npm ci installs axe-core and "
            "`make assets` copies it into static/vendor/)."
        )


@pytest.fixture
def demo(transactional_db):
    _require_axe()
    call_command("seed_demo", opportunities=150, seed=3, verbosity=0)


def _violations(page) -> list[str]:
    # A <script src> of this origin, as the policy allows (inline content would be refused).
    page.add_script_tag(url=urljoin(page.url, static("vendor/axe.min.js")))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ["violations"]});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
            }));
        }"""
    )
    return [f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}" for v in result]


def _check(page, paths):
    found = {}
    for path in paths:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        problems = _violations(page)
        if problems:
            found[path] = problems
    return found


@pytest.mark.django_db(transaction=True)
def test_rep_pages_have_no_accessibility_violations(demo, new_page):
    rep = User.objects.get(username="rep1")
    deal = Opportunity.objects.filter(owner=rep, stage__kind="open").first()
    lead = Lead.objects.filter(owner=rep, status=Lead.Status.PROSPECT).first()
    company = Company.objects.filter(owner=rep).first()
    contact = Contact.objects.filter(owner=rep).first()
    paths = [
        "/",
        "/pipeline/board/",
        "/pipeline/opportunities/",
        deal.get_absolute_url(),
        f"/pipeline/opportunities/{deal.pk}/move/",
        f"/pipeline/opportunities/{deal.pk}/edit/",
        f"/pipeline/opportunities/{deal.pk}/lost/",
        "/pipeline/opportunities/new/",
        "/pipeline/leads/",
        "/pipeline/leads/new/",
        company.get_absolute_url(),
        "/pipeline/companies/",
        contact.get_absolute_url(),
        "/pipeline/contacts/",
        "/pipeline/tasks/",
        "/forecasting/",
        f"/pipeline/search/?q={company.name.split()[0]}",
        "/pipeline/search/?q=x",
    ]
    if lead is not None:
        paths += [lead.get_absolute_url(), f"/pipeline/leads/{lead.pk}/convert/"]
    page = new_page()
    login(page, "rep1", DEMO_PASSWORD)
    found = _check(page, paths)
    # The board with a card's move form open, and the lost-reason dialog.
    page.goto("/pipeline/board/")
    page.locator("#board li.card a.card-move").first.click()
    page.locator("#board .card-move-form select").wait_for()
    if problems := _violations(page):
        found["board with a move form open"] = problems
    assert not found, "\n".join(f"{p}:\n  " + "\n  ".join(v) for p, v in found.items())


@pytest.mark.django_db(transaction=True)
def test_manager_pages_have_no_accessibility_violations(demo, new_page):
    paths = [*FORECAST_PAGES, "/pipeline/board/"]
    page = new_page()
    login(page, "manager1", DEMO_PASSWORD)
    found = _check(page, paths)
    assert not found, "\n".join(f"{p}:\n  " + "\n  ".join(v) for p, v in found.items())


def test_login_page_has_no_accessibility_violations(new_page, db):
    _require_axe()
    page = new_page()
    page.goto("/accounts/login/")
    assert not _violations(page)
