"""The win-probability model (DESIGN.md §3, "probability source"): features of every open deal
as of a date from the shared deal state (:mod:`.features`), a regularised logistic regression
per pipeline with Platt calibration and per-deal explanations (:mod:`.model`), the honest
month-by-month back-test against the stage percentages (:mod:`.backtest`), and the nightly
training that stores the model and the open deals' scores (:mod:`.services`)."""
