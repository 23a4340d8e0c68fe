"""The sales reports under /forecasting/reports/ (DESIGN.md §3 defines every number).

Layout, one module per report over shared ones:

- ``funnel.py``, ``stages.py``, ``win_rate.py``, ``pipeline_created.py``, ``rotting.py``,
  ``scorecards.py``, ``priorities.py`` — one report each: its selector (returning a
  :class:`tables.Report`), its table declaration and its findings; aggregation happens in
  SQL. ``drilldown.py`` lists the deals behind any number; ``summary.py`` is the home page's
  week at a glance.
- ``scope.py``    — :class:`ReportScope` (viewer, date range, pipeline, team, rep, lead
  source, idle setting) and the scoped base querysets, all starting from ``visible_to``.
- ``links.py``    — the URLs a row links to: the drill-down (``deals_url``) and record pages.
- ``tables.py``   — :class:`tables.Table` (the same object renders the HTML table and the
  CSV), :class:`tables.Report` and the shared row shaping (``owner_label``, ``to_date``).
- ``sql.py``      — ``Median`` (percentile_cont / a registered SQLite aggregate), day
  arithmetic that means the same on PostgreSQL and SQLite, ``planner_settings``.
- ``forms.py``    — the filter bar: parses the querystring, choices limited to the viewer.
- ``export.py``   — the CSV response.
- ``views.py``    — thin: parse, call the report's selector, render or export.

Every chart (reports and forecast dashboards alike) is configured in
:mod:`forecasting.charts`. Adding a report: the checklist in CONTRIBUTING.md.
"""
