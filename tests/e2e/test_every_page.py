"""Every main page as a rep, a manager and an admin, on a laptop (1440 px), a small laptop
(1280 px) and a phone (390 px), over the demo data. A screenshot of each is kept in
``artifacts/pages/`` (CI keeps ``artifacts/``). The test fails when a page:

- scrolls sideways (its body is wider than the window), or, on a laptop, hides a column of
  a home page panel's table behind the panel's own scroll bar (a third of the page holds
  the quota table's five columns),
- shows a raw value in its visible text, where the formatting layer should have spoken: an
  ISO date ("2026-12-20"), an amount without its thousands separator ("64700.00"), or a
  decimal with four or more places ("37.5000"), or a fraction of a day ("36.6 days": people
  count durations in whole days). Scores shown to three places on purpose (a Brier score
  of 0.153) are not raw.
- writes a percentage other than as US English does, like the "$" amounts beside it: "52%",
  never "52 %" (with any kind of space), in its text or on a chart's axes; and a sign only
  on a figure that is not zero (never "+0%" or "-0.0%"),
- has a section heading louder than its title (a browser's own h2 is larger than the site's
  h1: an unstyled h2 reads as the page's title),
- logs an error to the console, or breaks the Content-Security-Policy (tests/e2e/conftest.py).
"""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from accounts.models import User
from pipeline.models import Company, Contact, Lead, Opportunity
from scripts.main_pages import ADMIN_ONLY_PAGES, FORECAST_PAGES, WORK_PAGES
from tests.e2e.conftest import login

DEMO_PASSWORD = "demo-pass-2026"
WIDTHS = {"laptop": 1440, "phone": 390, "small": 1280}
USERS = {"rep": "rep1", "manager": "manager1", "admin": "admin"}

ISO_DATE = re.compile(r"(?<![\d-])\d{4}-\d{2}-\d{2}(?![\d-])")
RAW_AMOUNT = re.compile(r"(?<![\d,.])\d{4,}\.\d{2}(?![\d])")
LONG_DECIMAL = re.compile(r"(?<![\d.])\d+\.\d{4,}(?![\d.])")
SPACED_PERCENT = re.compile(r"\d+(?:\.\d+)?[^\S\n]%")
SIGNED_ZERO = re.compile(r"(?<![\w.])[+\-−]0(?:\.0+)?%")
PART_DAYS = re.compile(r"(?<![\d.])\d+\.\d+ days?\b")

# The tick labels of every chart drawn on the page (a label may be several lines).
CHART_TICKS = """() => [...document.querySelectorAll('canvas[data-chart]')]
    .filter(c => c._chart)
    .flatMap(c => Object.values(c._chart.scales))
    .flatMap(s => s.ticks.map(t => [].concat(t.label).join(' ')))
    .join('\\n')"""


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", opportunities=150, seed=5, verbosity=0)


def _records_of(username: str) -> list[str]:
    """The detail pages of one record of each kind the user may open."""
    user = User.objects.get(username=username)
    deal = Opportunity.objects.visible_to(user).filter(stage__kind="open").order_by("pk").first()
    paths = [deal.get_absolute_url(), f"{deal.get_absolute_url()}move/"]
    for model in (Lead, Company, Contact):
        record = model.objects.visible_to(user).order_by("pk").first()
        if record is not None:
            paths.append(record.get_absolute_url())
    return paths


def _problems(page) -> list[str]:
    found = []
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    if overflow > 0:
        found.append(f"scrolls sideways by {overflow} px")
    if page.viewport_size["width"] >= 1280:
        hidden = page.evaluate(
            """() => [...document.querySelectorAll('.home-panel .table-wrap')]
                .filter(el => el.scrollWidth > el.clientWidth + 1)
                .map(el => el.closest('.home-panel').querySelector('h2').textContent.trim())"""
        )
        if hidden:
            found.append(f"a panel's table scrolls inside it: {hidden}")
    louder = page.evaluate(
        """() => {
            const title = document.querySelector("main h1");
            if (!title) return [];
            const size = parseFloat(getComputedStyle(title).fontSize);
            return [...document.querySelectorAll("main h2, main h3, main h4")]
                .filter(h => h.getClientRects().length
                    && parseFloat(getComputedStyle(h).fontSize) > size + 0.5)
                .map(h => h.textContent.trim().slice(0, 40));
        }"""
    )
    if louder:
        found.append(f"headings louder than the title: {louder[:3]}")
    text = page.evaluate("document.body.innerText")
    raw = ((ISO_DATE, "ISO date"), (RAW_AMOUNT, "raw amount"), (LONG_DECIMAL, "raw decimal"))
    raw += ((SPACED_PERCENT, "spaced percentage"), (SIGNED_ZERO, "signed zero percentage"))
    raw += ((PART_DAYS, "fraction of a day"),)
    for pattern, what in raw:
        shown = sorted(set(pattern.findall(text)))
        if shown:
            found.append(f"{what} in the text: {shown[:5]}")
    ticks = sorted(set(SPACED_PERCENT.findall(page.evaluate(CHART_TICKS))))
    if ticks:
        found.append(f"spaced percentage on a chart axis: {ticks[:5]}")
    return found


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("role", sorted(USERS))
def test_every_main_page_fits_and_speaks_plainly(demo, new_page, artifacts_dir, role, width):
    username = USERS[role]
    paths = WORK_PAGES + _records_of(username)
    if role != "rep":
        paths += FORECAST_PAGES
    if role == "admin":
        paths += ADMIN_ONLY_PAGES
    shots = artifacts_dir / "pages"
    shots.mkdir(exist_ok=True)
    page = new_page(viewport={"width": WIDTHS[width], "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else 0)
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    login(page, username, DEMO_PASSWORD)
    found = {}
    for path in paths:
        response = page.goto(path)
        page.wait_for_load_state("networkidle")
        problems = _problems(page)
        if response is None or response.status != 200:
            problems.append(f"answered {response.status if response else 'nothing'}")
        if problems:
            found[path] = problems
        name = re.sub(r"[^a-z0-9]+", "-", path.strip("/").lower()) or "home"
        page.screenshot(path=str(shots / f"{role}-{width}-{name}.png"), full_page=True)
    assert not errors, "console errors:\n  " + "\n  ".join(errors)
    assert not found, "\n".join(f"{p}: " + "; ".join(v) for p, v in found.items())
