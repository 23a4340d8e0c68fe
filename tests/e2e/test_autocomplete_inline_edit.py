"""In a real browser: a rep picks a deal's company by typing (the autocomplete offers only
what they may see, is driven from the keyboard and passes axe), and edits a deal's amount in
place on its page, with the version check when someone else saved in between."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from pipeline import services
from pipeline.models import LineItem, Opportunity, Product, ProductPrice
from tests.e2e.conftest import login
from tests.e2e.test_accessibility import _require_axe, _violations
from tests.factories import CompanyFactory, ContactFactory, OpportunityFactory


@pytest.mark.django_db(transaction=True)
def test_a_rep_picks_a_company_by_typing(new_page, rep, outsider, pipeline, artifacts_dir):
    _require_axe()
    mine = CompanyFactory(owner=rep, name="Acme Labs", city="Lyon")
    CompanyFactory(owner=rep, name="Acme Robotics")
    CompanyFactory(owner=outsider, name="Acme West")
    contact = ContactFactory(owner=rep, company=mine, first_name="Dana", last_name="Ito")
    page = new_page(viewport={"width": 1440, "height": 900})
    login(page, "rep")
    page.goto("/pipeline/opportunities/new/")
    page.get_by_label("Name", exact=True).fill("Acme — 40 seats")

    company = page.get_by_role("combobox", name="Company")
    company.click()
    company.press_sequentially("acme", delay=30)
    listbox = page.get_by_role("listbox", name="Company")
    listbox.get_by_role("option", name="Acme Robotics").wait_for()
    options = listbox.get_by_role("option").all_inner_texts()
    assert any("Acme Labs" in o for o in options)
    assert not any("Acme West" in o for o in options)  # another team's company
    assert company.get_attribute("aria-expanded") == "true"
    assert _violations(page) == []
    page.screenshot(path=str(artifacts_dir / "autocomplete-company-open.png"))

    # The keyboard: the first match is active, ↓ moves on, ↑ comes back, Enter chooses.
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    active = company.get_attribute("aria-activedescendant")
    assert "Acme Labs" in page.locator(f"#{active}").inner_text()
    page.keyboard.press("Enter")
    assert company.input_value() == "Acme Labs"
    assert company.get_attribute("aria-expanded") == "false"
    assert page.locator("#id_company").input_value() == str(mine.pk)
    assert page.url.endswith("/pipeline/opportunities/new/")  # Enter chose, it did not submit

    # The contact field offers the chosen company's contacts.
    contact_box = page.get_by_role("combobox", name="Primary contact")
    contact_box.click()
    page.get_by_role("listbox", name="Primary contact").get_by_role(
        "option", name="Dana Ito"
    ).click()
    assert page.locator("#id_contact").input_value() == str(contact.pk)

    page.get_by_label("Amount").fill("48000")
    close = timezone.localdate() + dt.timedelta(days=40)
    while close.weekday() >= 5:
        close += dt.timedelta(days=1)
    page.get_by_label("Expected close date").fill(close.isoformat())
    page.get_by_role("button", name="Create deal").click()
    page.get_by_role("heading", name="Acme — 40 seats").wait_for()
    deal = Opportunity.objects.get(name="Acme — 40 seats")
    assert (deal.company_id, deal.contact_id) == (mine.pk, contact.pk)


@pytest.mark.django_db(transaction=True)
def test_the_company_field_is_a_select_with_find_without_javascript(
    browser, live_server, rep, pipeline
):
    CompanyFactory(owner=rep, name="Acme Labs")
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        page = context.new_page()
        login(page, "rep")
        page.goto("/pipeline/contacts/new/")
        assert page.locator("select#id_company").is_visible()
        assert page.get_by_role("button", name="Find").is_visible()
        assert page.locator("input[role=combobox]").count() == 0  # the select is the field
    finally:
        context.close()


@pytest.mark.django_db(transaction=True)
def test_a_rep_edits_a_deals_amount_in_place(new_page, rep, pipeline, artifacts_dir):
    _require_axe()
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, name="Inline deal", amount=48000)
    page = new_page(viewport={"width": 1440, "height": 900})
    login(page, "rep")
    page.goto(deal.get_absolute_url())
    page.get_by_role("link", name="$48,000 (edit the amount)").click()
    amount = page.get_by_role("textbox", name="Amount")
    amount.wait_for()
    assert amount.evaluate("el => el === document.activeElement")
    assert _violations(page) == []
    page.screenshot(path=str(artifacts_dir / "inline-amount-open.png"))
    amount.fill("64700")
    page.keyboard.press("Enter")
    page.get_by_role("status").get_by_text("Amount saved.").wait_for()
    saved = page.get_by_role("link", name="$64,700 (edit the amount)")
    assert saved.evaluate("el => el === document.activeElement")  # focus back on the value
    assert page.url.endswith(deal.get_absolute_url())  # in place, no page load
    assert Opportunity.objects.get(pk=deal.pk).amount == Decimal("64700")

    # Someone else saves while the form is open: nothing is changed, and the form says why.
    saved.click()
    page.get_by_role("textbox", name="Amount").wait_for()
    fresh = Opportunity.objects.get(pk=deal.pk)
    services.update_opportunity(
        opportunity=fresh, by=rep, version=fresh.version, amount=Decimal("50000")
    )
    page.get_by_role("textbox", name="Amount").fill("70000")
    page.locator("#inline-amount").get_by_role("button", name="Save").click()
    alert = page.locator("#inline-amount .inline-conflict")
    alert.wait_for()
    assert "its amount is now $50,000" in alert.inner_text()
    assert Opportunity.objects.get(pk=deal.pk).amount == Decimal("50000")
    assert _violations(page) == []
    page.screenshot(path=str(artifacts_dir / "inline-amount-conflict.png"))
    # Saving again, on purpose, applies the value at the current version.
    page.locator("#inline-amount").get_by_role("button", name="Save").click()
    page.get_by_role("status").get_by_text("Amount saved.").wait_for()
    assert Opportunity.objects.get(pk=deal.pk).amount == Decimal("70000")


@pytest.mark.django_db(transaction=True)
def test_a_rep_adds_a_product_by_typing_its_name(new_page, rep, pipeline):
    """The line-item form swaps the deal page (hx-select): the product matches still show."""
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, name="Products deal")
    for code, name in (("SUP-GOLD", "Gold support"), ("SUP-PLAT", "Platinum support")):
        product = Product.objects.create(name=name, code=code)
        ProductPrice.objects.create(product=product, currency="USD", unit_price=Decimal("900"))
    page = new_page()
    login(page, "rep")
    page.goto(deal.get_absolute_url())
    box = page.get_by_role("combobox", name="Product")
    box.click()
    page.get_by_role("option", name="Gold support (SUP-GOLD) $900.00").wait_for()
    box.press_sequentially("plat", delay=30)
    # Enter at once, maybe before the matches of "plat" arrive: the first match of what was
    # typed is chosen, never the first of an older list.
    page.keyboard.press("Enter")
    # Playwright's own assertion polls from its isolated world: a string predicate
    # (wait_for_function) is an eval the page's Content-Security-Policy refuses.
    expect(page.locator("#line-product")).not_to_have_value("")
    assert box.input_value() == "Platinum support (SUP-PLAT)"
    page.get_by_role("button", name="Add product").click()
    page.locator(".line-product", has_text="Platinum support").wait_for()
    assert LineItem.objects.get(opportunity_id=deal.pk).product.code == "SUP-PLAT"
