"""Pagination whose cost does not grow with the table: a list counts its rows only up to
:data:`COUNT_LIMIT` (``SELECT count(*) FROM (… LIMIT 2001)``) and says "2,000+" beyond it,
instead of counting every row it could show; its pages go up to that bound (a list that long
is narrowed by its filters or its sort, not paged through). The bound is what a count may
cost: counting stops after 2,001 visible rows, and each row's visibility is one index probe,
so the cost depends on the bound, not on the table."""

from __future__ import annotations

import math

from django.core.paginator import Page, Paginator
from django.utils.functional import cached_property

COUNT_LIMIT = 2_000


class BoundedPaginator(Paginator):
    """A :class:`~django.core.paginator.Paginator` whose ``count`` stops at
    ``COUNT_LIMIT + 1``; ``capped`` says the list holds more than ``COUNT_LIMIT`` rows."""

    limit = COUNT_LIMIT

    @cached_property
    def count(self) -> int:
        # A sequence that reads a queryset's rows its own way names it ``queryset``
        # (``pipeline.selectors.opportunities.ByCloseDate``): the count is of those rows.
        rows = getattr(self.object_list, "queryset", self.object_list)
        if hasattr(rows, "query"):
            # Ordering does not change a count; a bounded subquery needs no sort.
            return rows.order_by()[: self.limit + 1].count()
        return min(len(rows), self.limit + 1)

    @property
    def capped(self) -> bool:
        return self.count > self.limit

    @cached_property
    def num_pages(self) -> int:
        shown = min(self.count, self.limit)
        if shown == 0 and not self.allow_empty_first_page:
            return 0
        return max(1, math.ceil(shown / self.per_page))

    def count_label(self) -> str:
        """The number of rows as a list says it: ``"2,000+"`` beyond the bound."""
        if self.capped:
            return f"{self.limit:,}+"
        return f"{self.count:,}"


def paginate(queryset, page_number, per_page: int) -> Page:
    """One page of ``queryset`` through :class:`BoundedPaginator`; a missing, malformed or
    out-of-range page number gives the first or last page instead of an error."""
    return BoundedPaginator(queryset, per_page).get_page(page_number)
