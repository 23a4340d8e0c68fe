"""Priorities are one person's list: with no rep chosen they are the viewer's own, and the rep
menu says so ("Me (…)") instead of offering "All reps" beside a list of the viewer's deals."""

from django.urls import reverse


def test_the_rep_menu_names_the_viewer_when_no_rep_is_chosen(client, manager, rep):
    client.force_login(manager)
    body = client.get(reverse("forecasting:report_priorities")).content.decode()
    me = manager.get_full_name() or manager.get_username()
    assert f'<option value="" selected>Me ({me})</option>' in body
    assert "All reps" not in body
    assert f'<option value="{rep.pk}">' in body  # another rep can still be chosen


def test_other_reports_keep_all_reps(client, manager):
    client.force_login(manager)
    body = client.get(reverse("forecasting:report_rotting")).content.decode()
    assert "All reps" in body
