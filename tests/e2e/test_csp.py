"""The Content-Security-Policy in a real browser: the check every browser test runs really
catches a violation, and Django admin (ours and third-party admin pages) works under the
policy. The app's own pages are covered by every other browser test (each fails on a
violation), the accessibility tests visiting all of them."""

import pytest
from django.contrib import admin
from django_celery_beat.models import CrontabSchedule

from pipeline import services
from pipeline.models import Company
from tests.e2e.conftest import login
from tests.factories import CompanyFactory, OpportunityFactory


def test_csp_check_catches_an_inline_script_and_style(new_page, db, csp_violations):
    page = new_page()
    page.goto("/accounts/login/")
    assert not csp_violations
    page.evaluate(
        """() => {
            const s = document.createElement("script");
            s.textContent = "window.__ran = true";
            document.body.append(s);
            document.body.setAttribute("style", "background: red");
        }"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("window.__ran") is None, "the inline script ran"
    blocked = "\n".join(csp_violations)
    assert "script-src-elem" in blocked and "style-src-attr" in blocked, blocked
    csp_violations.clear()  # provoked on purpose


@pytest.mark.django_db(transaction=True)
def test_csp_every_admin_list_and_add_page_keeps_the_policy(new_page, admin_user, pipeline):
    page = new_page()
    login(page, "admin")
    page.goto("/admin/")
    page.get_by_role("heading", name="Pipelines, stages, teams and users").wait_for()
    for model in admin.site._registry:
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for path in (base, f"{base}add/"):
            response = page.goto(path)
            page.wait_for_load_state("networkidle")
            assert response.status in (200, 403), f"{path}: {response.status}"
            assert response.headers.get("content-security-policy"), path


@pytest.mark.django_db(transaction=True)
def test_csp_admin_change_history_and_delete_pages_keep_the_policy(
    new_page, admin_user, rep, pipeline
):
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, name="Admin CSP deal")
    for amount in (100, 200, 300):  # history rows, so the history page has its paginator
        deal = services.update_opportunity(
            opportunity=deal, by=admin_user, version=deal.version, amount=amount
        )
    company = CompanyFactory(owner=rep)  # no deals, so it may be deleted
    page = new_page()
    login(page, "admin")
    page.goto(f"/admin/pipeline/company/{company.pk}/change/")
    # The owner field is an autocomplete (select2): open it and search.
    page.locator(".field-owner .select2-selection").click()
    page.locator(".select2-search__field").fill(rep.username[:2])
    page.locator(".select2-results__option", has_text=str(rep)).first.wait_for()
    page.keyboard.press("Escape")
    page.goto(f"/admin/pipeline/company/{company.pk}/delete/")
    page.get_by_role("link", name="No, take me back").click()
    page.wait_for_url(f"**/admin/pipeline/company/{company.pk}/change/")
    page.goto(f"/admin/pipeline/opportunity/{deal.pk}/change/")
    page.goto(f"/admin/pipeline/opportunity/{deal.pk}/history/")
    assert page.locator("p.paginator").count() == 1
    page.goto(f"/admin/accounts/user/{rep.pk}/change/")
    page.goto(f"/admin/accounts/user/{rep.pk}/password/")
    assert Company.objects.filter(pk=company.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_csp_admin_periodic_task_form_spells_out_the_crontab(new_page, admin_user):
    crontab = CrontabSchedule.objects.create(minute="0", hour="4")
    page = new_page()
    login(page, "admin")
    page.goto("/admin/django_celery_beat/periodictask/add/")
    page.locator("#id_crontab").select_option(str(crontab.pk))
    help_text = page.locator(".field-crontab .help")
    help_text.get_by_text("Translation: At 04:00").wait_for()
    assert page.locator(".field-crontab_translation").is_hidden()
