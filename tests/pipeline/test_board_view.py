"""The board as a person sees it: the pipeline in the title with a switcher, what the totals
count (this pipeline and every pipeline), owners by name with their initials, and the
person's own view of it (density, collapsed columns), saved by ``pipeline:board_prefs``."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from pipeline.avatars import owner_label
from tests.factories import OpportunityFactory, PipelineFactory, UserFactory, stage

BOARD = "/pipeline/board/"
PREFS = "/pipeline/board/view/"


def _main(response) -> str:
    return response.content.decode().split('<main id="main"')[1].split("</main>")[0]


def _column(body: str, stage_pk: int) -> str:
    return body.split(f'data-stage="{stage_pk}"')[1].split("</section>")[0]


# --- the URL contract ---


def test_prefs_url_is_the_contract_url():
    assert reverse("pipeline:board_prefs") == PREFS


# --- names and initials ---


@pytest.mark.parametrize(
    ("name", "initials"),
    [
        ("Dana Scully", "DS"),
        ("Jean Luc Picard", "JP"),
        ("dana", "D"),
        ("", "?"),
        ("émile zola", "ÉZ"),
    ],
)
def test_owner_label_initials(name, initials):
    got, full, tone = owner_label(name)
    assert (got, full) == (initials, name)
    assert tone.startswith("avatar-") and owner_label(name)[2] == tone  # stable


def test_cards_show_owner_full_name_and_initials_not_handles(client, rep, pipeline):
    rep.first_name, rep.last_name = "Dana", "Scully"
    rep.save()
    OpportunityFactory(owner=rep, pipeline=pipeline, name="Acme — 40 seats")
    client.force_login(rep)
    body = _main(client.get(BOARD))
    assert '<span class="owner-name">Dana Scully</span>' in body
    assert 'aria-hidden="true">DS</span>' in body
    assert "@rep" not in body


def test_owner_without_a_name_shows_the_username(client, pipeline):
    loner = UserFactory(username="loner", first_name="", last_name="")
    OpportunityFactory(owner=loner, pipeline=pipeline)
    client.force_login(loner)
    body = _main(client.get(BOARD))
    assert '<span class="owner-name">loner</span>' in body
    assert 'aria-hidden="true">L</span>' in body


def test_owner_names_are_escaped(client, pipeline):
    odd = UserFactory(username="odd", first_name="<b>Bo</b>", last_name="O'Neil")
    OpportunityFactory(owner=odd, pipeline=pipeline)
    client.force_login(odd)
    body = _main(client.get(BOARD))
    assert "&lt;b&gt;Bo&lt;/b&gt; O&#x27;Neil" in body
    assert "<b>Bo</b>" not in body


def test_moved_card_shows_the_owner_name(client, rep, pipeline):
    """The card a move answers with (pipeline/views/opportunities.py) is the board's card."""
    from tests.factories import current_version

    deal = OpportunityFactory(owner=rep, pipeline=pipeline, stage=stage(pipeline, "Qualification"))
    client.force_login(rep)
    response = client.post(
        reverse("pipeline:opportunity_move", args=[deal.pk]),
        {"stage": stage(pipeline, "Discovery").pk, "version": current_version(deal)},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200, response.content
    assert f'<span class="owner-name">{rep.get_full_name()}</span>' in response.json()["card"]


# --- title, switcher and what the totals count ---


def test_title_names_the_pipeline_and_switcher_lists_the_others(client, rep, pipeline):
    other = PipelineFactory(name="Renewals")
    client.force_login(rep)
    response = client.get(BOARD)
    page = response.content.decode()
    assert f"<title>{pipeline.name} · Board" in page
    body = _main(response)
    assert f"<h1>{pipeline.name} <span" in body
    switch = body.split('class="pipeline-switch')[1].split("</details>")[0]
    assert f'href="?pipeline={other.pk}"' in switch
    assert f'href="?pipeline={pipeline.pk}" aria-current="page"' in switch
    # the other pipeline's board names it in its title
    body = _main(client.get(BOARD, {"pipeline": other.pk}))
    assert "<h1>Renewals <span" in body


def test_switcher_keeps_the_filters(client, manager, rep, pipeline):
    other = PipelineFactory(name="Renewals")
    client.force_login(manager)
    body = _main(client.get(BOARD, {"pipeline": pipeline.pk, "owner": rep.pk}))
    assert f'href="?pipeline={other.pk}&amp;owner={rep.pk}"' in body


def test_totals_say_which_pipeline_and_reconcile_with_every_pipeline(client, rep, pipeline):
    other = PipelineFactory(name="Renewals")
    for amount in ("1000", "2000"):
        OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal(amount))
    OpportunityFactory(owner=rep, pipeline=other, amount=Decimal("500"))
    client.force_login(rep)
    response = client.get(BOARD)
    board = response.context["board"]
    assert (board.count, board.every_pipeline["n"]) == (2, 3)
    assert board.every_pipeline["total"] == Decimal("3500.00")
    summary = _main(response).split('class="board-summary"')[1].split("</p>")[0]
    assert f"open deals in {pipeline.name}</strong>" in summary
    assert "All pipelines:" in summary and ">3</span> open deals" in summary
    assert '<span class="num">$3k</span>' in summary  # this pipeline
    assert '<span class="num">$4k</span>' in summary  # every pipeline: $3,500


def test_every_pipeline_line_is_left_out_when_it_says_the_same(client, rep, pipeline):
    OpportunityFactory(owner=rep, pipeline=pipeline)
    client.force_login(rep)
    assert "All pipelines:" not in _main(client.get(BOARD))


def test_every_pipeline_counts_only_what_the_user_may_see(client, rep, outsider, pipeline):
    other = PipelineFactory(name="Renewals")
    OpportunityFactory(owner=rep, pipeline=pipeline)
    OpportunityFactory(owner=outsider, pipeline=other)
    OpportunityFactory(owner=outsider, pipeline=pipeline)
    client.force_login(rep)
    assert client.get(BOARD).context["board"].every_pipeline["n"] == 1


# --- the view preferences: density ---


def test_density_is_saved_for_the_person_and_shown(client, rep, rep2, pipeline):
    OpportunityFactory(owner=rep, pipeline=pipeline)
    client.force_login(rep)
    assert 'class="board"' in _main(client.get(BOARD))
    response = client.post(PREFS, {"density": "compact", "next": BOARD + "?q=x"})
    assert response.status_code == 303
    assert response["Location"] == BOARD + "?q=x"
    rep.refresh_from_db()
    assert rep.board_density == "compact"
    body = _main(client.get(BOARD))
    assert 'class="board is-compact"' in body
    assert 'value="compact" aria-pressed="true"' in body
    # another person's board is not affected
    other = Client()
    other.force_login(rep2)
    assert "is-compact" not in _main(other.get(BOARD))


def test_density_answers_json_to_scripts(client, rep):
    client.force_login(rep)
    response = client.post(PREFS, {"density": "compact"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "density": "compact", "collapsed": []}


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"density": "tiny"},
        {"density": ""},
        {"density": "compact", "stage": "1", "collapsed": "1"},
        {"stage": "abc", "collapsed": "1"},
        {"stage": "99999999999999999999", "collapsed": "1"},
        {"stage": "²", "collapsed": "1"},
        {"stage": "-1", "collapsed": "1"},
        {"stage": "STAGE", "collapsed": "yes"},
        {"stage": "STAGE"},
        {"stage": "WON", "collapsed": "1"},
        {"stage": "x\x00y", "collapsed": "1"},
    ],
)
def test_bad_input_is_a_400_not_a_500_and_saves_nothing(client, rep, pipeline, data):
    data = {
        k: {"STAGE": stage(pipeline, "Discovery").pk, "WON": stage(pipeline, "Won").pk}.get(v, v)
        for k, v in data.items()
    }
    client.force_login(rep)
    response = client.post(PREFS, data)
    assert response.status_code == 400
    rep.refresh_from_db()
    assert (rep.board_density, rep.board_collapsed_stages) == ("comfortable", [])


def test_bad_input_answers_json_with_the_reason(client, rep):
    client.force_login(rep)
    response = client.post(PREFS, {"density": "tiny"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert response.json()["ok"] is False and "comfortable or compact" in response.json()["message"]


def test_prefs_need_a_login(client, pipeline):
    response = client.post(PREFS, {"density": "compact"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_prefs_need_the_csrf_token(rep, pipeline):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(rep)
    assert strict.post(PREFS, {"density": "compact"}).status_code == 403
    rep.refresh_from_db()
    assert rep.board_density == "comfortable"
    # the board's own form carries the token, and posting it works
    page = strict.get(BOARD).content.decode()
    form = page.split('class="density-form')[1].split("</form>")[0]
    token = form.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    response = strict.post(PREFS, {"density": "compact", "csrfmiddlewaretoken": token})
    assert response.status_code == 303


def test_prefs_are_post_only(client, rep):
    client.force_login(rep)
    assert client.get(PREFS, {"density": "compact"}).status_code == 405


def test_next_elsewhere_goes_back_to_the_board(client, rep):
    client.force_login(rep)
    response = client.post(PREFS, {"density": "compact", "next": "https://evil.example/"})
    assert response.status_code == 303 and response["Location"] == reverse("pipeline:board")


# --- the view preferences: collapsed columns ---


def test_collapse_and_expand_a_column(client, rep, pipeline):
    discovery = stage(pipeline, "Discovery")
    OpportunityFactory(owner=rep, pipeline=pipeline, stage=discovery, name="Kept deal")
    client.force_login(rep)
    body = _main(client.get(BOARD))
    col = _column(body, discovery.pk)
    assert 'name="collapsed" value="1"' in col and 'aria-expanded="true"' in col
    assert client.post(PREFS, {"stage": discovery.pk, "collapsed": "1"}).status_code == 303
    rep.refresh_from_db()
    assert rep.board_collapsed_stages == [discovery.pk]
    body = _main(client.get(BOARD))
    assert f'class="column is-collapsed" aria-labelledby="col-title-{discovery.pk}"' in body
    col = _column(body, discovery.pk)
    assert 'aria-expanded="false"' in col and 'name="collapsed" value="0"' in col
    assert f'id="col-body-{discovery.pk}" hidden' in col
    assert "Expand Discovery, 1 deal" in col
    # the other columns stay open
    assert 'class="column is-collapsed"' not in _column(body, stage(pipeline, "Proposal").pk)
    assert client.post(PREFS, {"stage": discovery.pk, "collapsed": "0"}).status_code == 303
    rep.refresh_from_db()
    assert rep.board_collapsed_stages == []
    assert "is-collapsed" not in _main(client.get(BOARD))


def test_collapsed_columns_are_the_persons_own(client, rep, rep2, pipeline):
    discovery = stage(pipeline, "Discovery")
    client.force_login(rep)
    client.post(PREFS, {"stage": discovery.pk, "collapsed": "1"})
    other = Client()
    other.force_login(rep2)
    assert "is-collapsed" not in _main(other.get(BOARD))


def test_collapsing_twice_keeps_one_entry(client, rep, pipeline):
    discovery = stage(pipeline, "Discovery")
    client.force_login(rep)
    for _ in range(2):
        client.post(PREFS, {"stage": discovery.pk, "collapsed": "1"})
    rep.refresh_from_db()
    assert rep.board_collapsed_stages == [discovery.pk]


def test_a_stage_of_an_inactive_pipeline_is_refused(client, rep):
    old = PipelineFactory(name="Old", is_active=False)
    client.force_login(rep)
    response = client.post(PREFS, {"stage": stage(old, "Discovery").pk, "collapsed": "1"})
    assert response.status_code == 400


def test_malformed_stored_preferences_are_ignored(client, rep, pipeline):
    User.objects.filter(pk=rep.pk).update(board_collapsed_stages={"x": 1})
    client.force_login(rep)
    assert client.get(BOARD).status_code == 200
    User.objects.filter(pk=rep.pk).update(board_collapsed_stages=["a", True, None])
    assert client.get(BOARD).status_code == 200
    assert (
        client.post(PREFS, {"stage": stage(pipeline, "Discovery").pk, "collapsed": "1"}).status_code
        == 303
    )


# --- the board's cache stays shared: the view is applied outside it ---


def test_view_prefs_do_not_make_the_cached_board_stale(client, rep, pipeline, settings):
    from pipeline import board_cache

    settings.OPPORTUNE_BOARD_CACHE_SECONDS = 60
    generation = board_cache._generation()
    client.force_login(rep)
    client.post(PREFS, {"density": "compact"})
    client.post(PREFS, {"stage": stage(pipeline, "Discovery").pk, "collapsed": "1"})
    assert board_cache._generation() == generation
    rep.first_name = "Renamed"
    rep.save()
    assert board_cache._generation() != generation


def test_as_of_board_shows_owner_names(client, rep, pipeline):
    deal = OpportunityFactory(owner=rep, pipeline=pipeline)
    client.force_login(rep)
    day = (deal.created_at + dt.timedelta(days=1)).date()
    response = client.get(BOARD, {"as_of": day.isoformat()})
    body = _main(response)
    if response.status_code == 200 and "card-as-of" in body:
        assert f'<span class="owner-name">{rep.get_full_name()}</span>' in body
        assert "@rep" not in body
