"""The sales reports under /forecasting/reports/ (DESIGN.md §3 defines every number).

Layout:

- ``filters.py``  — :class:`ReportScope` (viewer, date range, pipeline, team, rep, lead
  source, idle setting) and the scoped base querysets, all starting from ``visible_to``.
- ``forms.py``    — the filter bar: parses the querystring, choices limited to the viewer.
- ``selectors.py``— one function per report returning a :class:`selectors.Report` (tables,
  chart config for ``static/js/charts.js``, findings); aggregation happens in SQL.
- ``tables.py``   — :class:`tables.Table`: the same object renders the HTML table and the CSV.
- ``export.py``   — the CSV response.
- ``sql.py``      — ``Median`` (percentile_cont / a registered SQLite aggregate), day
  arithmetic that means the same on PostgreSQL and SQLite.
- ``views.py``    — thin: parse, call the selector, render or export.

Adding a report: write the selector (fixed number of queries; pin it in
``tests/forecasting/reports/test_queries.py``), give every count and sum a ``_links`` entry
to ``deals_url`` (the drill-down) or add a drill-down kind, add the view and URL, list it in
``views.REPORTS`` (the index page), and test its figures against the hand-computed world in
``tests/forecasting/reports/world.py`` on SQLite and PostgreSQL, plus CSV = table.
"""
