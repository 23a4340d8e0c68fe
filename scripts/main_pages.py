"""The main pages of Opportune by path: the one list that the production smoke test
(``scripts/smoke.py``), the browser tests (every page at a laptop's and a phone's width,
accessibility) and the Content-Security-Policy test open. A new main page goes here once."""

# Every signed-in user's lists, forms and searches.
WORK_PAGES = [
    "/",
    "/pipeline/board/",
    "/pipeline/opportunities/",
    "/pipeline/opportunities/new/",
    "/pipeline/leads/",
    "/pipeline/leads/new/",
    "/pipeline/companies/",
    "/pipeline/contacts/",
    "/pipeline/products/",
    "/pipeline/activities/",
    "/pipeline/tasks/",
    "/pipeline/search/?q=a",
    "/notifications/",
    "/imports/",
]

# The forecast and the reports (managers and admins read them all day).
FORECAST_PAGES = [
    "/forecasting/",
    "/forecasting/changes/",
    "/forecasting/accuracy/",
    "/forecasting/quotas/",
    "/forecasting/reports/",
    "/forecasting/reports/funnel/",
    "/forecasting/reports/stages/",
    "/forecasting/reports/win-rate/",
    "/forecasting/reports/pipeline/",
    "/forecasting/reports/rotting/",
    "/forecasting/reports/products/",
    "/forecasting/reports/scorecards/",
    "/forecasting/reports/priorities/",
]

# Only administrators' (besides Django admin itself).
ADMIN_ONLY_PAGES = ["/forecasting/calibration/"]
