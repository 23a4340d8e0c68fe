"""Cursor pagination: stable under inserts (a new record never shifts a page), no count query."""

from rest_framework.pagination import CursorPagination


class Cursor(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-id"


class CursorByUpdated(Cursor):
    """Lists with ``updated_at``: newest change first by default; ``?ordering=updated_at``
    walks oldest first, for sync with ``?updated_since=``."""

    ordering = "-id"
