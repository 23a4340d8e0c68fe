"""One search box for the whole workspace: deals, leads, companies and contacts.

Each section runs the same FilterSet as its list page with the same ``q`` (and the list
parameters that make the list show every status), so a section's count is exactly what its
"see all" link opens, and nothing out of the user's sight is found or counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from pipeline import conversion
from pipeline.filters import SEARCH_MAX_LENGTH
from pipeline.selectors.companies import company_list
from pipeline.selectors.contacts import contact_list
from pipeline.selectors.leads import lead_list
from pipeline.selectors.opportunities import opportunity_list

MIN_LENGTH = 2
PER_SECTION = 5
# Counting stops here ("100+"): a full count of a common word costs a scan of every match.
COUNT_CAP = 100


@dataclass
class Section:
    key: str
    title: str
    count: int = 0
    items: list = field(default_factory=list)
    more_url: str = ""

    @property
    def capped(self) -> bool:
        """More matches than were counted (``count`` is then ``COUNT_CAP``)."""
        return self.count > COUNT_CAP

    @property
    def shown_count(self) -> str:
        return f"{COUNT_CAP}+" if self.capped else str(self.count)


@dataclass
class Results:
    query: str
    error: str = ""
    sections: list[Section] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(min(s.count, COUNT_CAP) for s in self.sections)

    @property
    def shown_total(self) -> str:
        capped = any(s.capped for s in self.sections)
        return f"{self.total}+" if capped else str(self.total)


def _deals(user, data, request, fx):
    return opportunity_list(user=user, params=data, request=request, fx=fx)[1]


def _leads(user, data, request, fx):
    return lead_list(user=user, params=data).qs


def _companies(user, data, request, fx):
    return company_list(user=user, params=data, fx=fx).qs


def _contacts(user, data, request, fx):
    return contact_list(user=user, params=data).qs


# key, title, list page, the list's parameters besides ``q``, the list's rows
SECTIONS = (
    ("deals", "Deals", "pipeline:opportunity_list", {}, _deals),
    ("leads", "Leads", "pipeline:lead_list", {"status": "all"}, _leads),
    ("companies", "Companies", "pipeline:company_list", {}, _companies),
    ("contacts", "Contacts", "pipeline:contact_list", {}, _contacts),
)


def search(*, user, query: str, request=None, per_section: int = PER_SECTION) -> Results:
    """Up to ``per_section`` matches of each kind, with the number of all matches (counted
    up to ``COUNT_CAP``)."""
    query = " ".join((query or "").replace("\x00", "").split())
    results = Results(query=query)
    if len(query) < MIN_LENGTH:
        if query:
            results.error = f"Type at least {MIN_LENGTH} characters to search."
        return results
    if len(query) > SEARCH_MAX_LENGTH:
        results.error = f"Search for at most {SEARCH_MAX_LENGTH} characters."
        return results
    fx = conversion.rates_on(timezone.localdate())  # the deals' and companies' amounts
    for key, title, url_name, params, rows in SECTIONS:
        params = {**params, "q": query}
        data = QueryDict(mutable=True)
        data.update(params)
        qs = rows(user, data, request, fx)
        items = list(qs[: per_section + 1])
        # A count of COUNT_CAP + 1 stands for "more than COUNT_CAP".
        capped_count = qs.order_by()[: COUNT_CAP + 1]
        count = len(items) if len(items) <= per_section else capped_count.count()
        results.sections.append(
            Section(
                key=key,
                title=title,
                count=count,
                items=items[:per_section],
                more_url=f"{reverse(url_name)}?{urlencode(params)}",
            )
        )
    return results
