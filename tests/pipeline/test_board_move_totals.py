"""The column headers the board script gets back after a drag and drop count what the page
counts: the same visibility and the same filters (owner, team, search ...)."""

import re

import pytest
from django.urls import reverse

from tests.factories import OpportunityFactory, stage

BOARD = "/pipeline/board/"


def _header_counts(headers: dict) -> dict[int, int]:
    return {
        int(sid): int(re.search(r'<span class="num">(\d+)</span> deal', html).group(1))
        for sid, html in headers.items()
    }


def _page_counts(client, query: dict) -> dict[int, int]:
    response = client.get(BOARD, query)
    assert response.status_code == 200
    return {c.stage.pk: c.count for c in response.context["board"].columns}


def _move(client, deal, to_stage, board_query: str):
    response = client.post(
        reverse("pipeline:opportunity_move", args=[deal.pk]),
        {"stage": to_stage.pk, "version": deal.version, "board": board_query},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["ok"] is True
    return data


@pytest.mark.parametrize(
    "who,filters",
    [
        ("manager", lambda rep, team: {"owner": rep.pk}),
        ("manager", lambda rep, team: {"team": team.pk}),
        ("admin_user", lambda rep, team: {"owner": rep.pk}),
        ("admin_user", lambda rep, team: {"team": team.pk}),
        ("manager", lambda rep, team: {"q": "Mine"}),
    ],
)
def test_move_headers_use_the_page_filters(
    client, request, rep, rep2, outsider, team, pipeline, who, filters
):
    user = request.getfixturevalue(who)
    qualification, discovery = stage(pipeline, "Qualification"), stage(pipeline, "Discovery")
    mine = [OpportunityFactory(owner=rep, pipeline=pipeline, name=f"Mine {i}") for i in range(3)]
    for i in range(5):
        OpportunityFactory(owner=rep2, pipeline=pipeline, name=f"Theirs {i}")
        OpportunityFactory(owner=outsider, pipeline=pipeline, name=f"West {i}")
    query = {"pipeline": pipeline.pk, **filters(rep, team)}
    client.force_login(user)
    board_query = client.get(BOARD, query).context["query"]

    data = _move(client, mine[0], discovery, board_query)

    headers = _header_counts(data["headers"])
    assert headers == _page_counts(client, query)
    expected_team = 3 + 5 if "team" in query else 3
    assert headers[qualification.pk] + headers[discovery.pk] == expected_team
    assert headers[discovery.pk] == 1


def test_move_headers_of_a_rep_ignore_owner_they_cannot_name(client, rep, rep2, pipeline):
    """A rep's board has no owner filter: an owner in the posted query changes nothing."""
    discovery = stage(pipeline, "Discovery")
    deal = OpportunityFactory(owner=rep, pipeline=pipeline)
    OpportunityFactory(owner=rep, pipeline=pipeline)
    OpportunityFactory(owner=rep2, pipeline=pipeline)
    client.force_login(rep)
    data = _move(client, deal, discovery, f"pipeline={pipeline.pk}&owner={rep2.pk}")
    assert sum(_header_counts(data["headers"]).values()) == 2
