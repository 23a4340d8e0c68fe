"""Lists name a deal's owner as every other page does, by full name, never by an @handle."""

import datetime as dt

import time_machine
from django.urls import reverse
from django.utils import timezone

from tests.factories import OpportunityFactory


def _owner_cell(body: str) -> str:
    start = body.index('data-label="Owner">') + len('data-label="Owner">')
    return body[start : body.index("</td>", start)]


def test_the_deal_list_and_its_past_view_and_search_show_the_owners_name(client, rep, pipeline):
    rep.first_name, rep.last_name = "Dana", "Reyes"
    rep.save()
    with time_machine.travel(timezone.now() - dt.timedelta(days=3), tick=False):
        OpportunityFactory(owner=rep, pipeline=pipeline, name="Umbrella deal")
    client.force_login(rep)
    url = reverse("pipeline:opportunity_list")
    assert _owner_cell(client.get(url).content.decode()) == "Dana Reyes"
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    past = client.get(url, {"as_of": yesterday}).content.decode()
    assert 'class="as-of-banner"' in past
    assert _owner_cell(past) == "Dana Reyes"
    found = client.get(reverse("pipeline:search"), {"q": "umbrella"}).content.decode()
    assert "Dana Reyes" in found and f"@{rep.username}" not in found
