"""The model of one pipeline: a design matrix from a :class:`~.features.Frame`, an
L2-regularised logistic regression (scikit-learn), Platt calibration on a held-out fold,
validation scores on another, and per-deal explanations. The fitted model is plain numbers
(:meth:`forecasting.models.WinModel.params`), so it is stored as JSON and scored with numpy.

Explanations
------------
With standardised features ``z`` (mean 0 over the training rows), coefficients ``w``,
intercept ``b`` and Platt's ``a``, ``c``, a deal's calibrated logit is
``base + Σ_g a·Σ_{j∈g} w_j z_j`` where ``base = a·b + c`` is the logit of the average deal
and ``g`` runs over the factors (a numeric feature, or all one-hot columns of a category).
Each factor's points are its logit contribution times the secant slope of the sigmoid between
``base`` and the deal's logit, in percentage points, so the points add up exactly to the
deal's probability minus the average deal's (``base`` probability).
"""

from __future__ import annotations

import math

import numpy as np

from forecasting.learning.features import Frame

C_REGULARISATION = 0.5
OWNER_PRIOR = 10
EPS = 1e-3
CALIBRATION_FOLD, VALIDATION_FOLD, FOLDS = 0, 1, 5


def _count(n: float, one: str, many: str) -> str:
    n = int(round(n))
    return one if n == 1 else many.format(n=n)


def _close_label(days: int) -> str:
    if days == 0:
        return "expected to close today"
    if days > 0:
        return _count(days, "expected to close tomorrow", "expected to close in {n} days")
    return _count(-days, "expected close passed yesterday", "expected close passed {n} days ago")


def _money(x: float) -> str:
    return f"{x:,.0f}"


# Numeric factors: name -> (transform of the frame, label of a deal's raw value).
NUMERIC = {
    "days_in_stage": (
        lambda f, p: np.log1p(f.columns["days_in_stage"]),
        lambda r: _count(r["days_in_stage"], "1 day in the stage", "{n} days in the stage"),
    ),
    "age_days": (
        lambda f, p: np.log1p(f.columns["age_days"]),
        lambda r: _count(r["age_days"], "created 1 day ago", "created {n} days ago"),
    ),
    "days_to_close": (
        lambda f, p: np.clip(f.columns["days_to_close"], -180, 365),
        lambda r: _close_label(int(r["days_to_close"])),
    ),
    "slips": (
        lambda f, p: np.clip(f.columns["slips"], 0, 10),
        lambda r: (
            _count(r["slips"], "close date slipped once", "close date slipped {n} times")
            if r["slips"]
            else "close date never slipped"
        ),
    ),
    "amount": (
        lambda f, p: np.log1p(f.columns["amount"]),
        lambda r: f"amount {_money(r['amount'])}",
    ),
    "amount_changes": (
        lambda f, p: np.clip(f.columns["amount_changes"], 0, 10),
        lambda r: (
            _count(r["amount_changes"], "amount changed once", "amount changed {n} times")
            if r["amount_changes"]
            else "amount never changed"
        ),
    ),
    "idle_days": (
        lambda f, p: np.log1p(f.columns["idle_days"]),
        lambda r: _count(r["idle_days"], "no activity for 1 day", "no activity for {n} days"),
    ),
    "acts14": (
        lambda f, p: np.clip(f.columns["acts14"], 0, 30),
        lambda r: _count(
            r["acts14"], "1 activity in the last 14 days", "{n} activities in the last 14 days"
        ),
    ),
    "acts30": (
        lambda f, p: np.clip(f.columns["acts30"], 0, 60),
        lambda r: _count(
            r["acts30"], "1 activity in the last 30 days", "{n} activities in the last 30 days"
        ),
    ),
    "items": (
        lambda f, p: np.log1p(f.columns["items"]),
        lambda r: (
            _count(r["items"], "1 product line", "{n} product lines")
            if r["items"]
            else "no product lines"
        ),
    ),
    "owner_rate": (
        lambda f, p: owner_rate(f, p),
        lambda r: f"owner's win rate {r['owner_rate'] * 100:.0f}% (last 12 months)",
    ),
    "company_wins": (
        lambda f, p: np.log1p(f.columns["company_wins"]),
        lambda r: (
            _count(r["company_wins"], "company won 1 deal before", "company won {n} deals before")
            if r["company_wins"]
            else "company never won a deal before"
        ),
    ),
}
CATEGORICAL = ("stage", "category", "source")
CATEGORY_LABELS = {
    "category": lambda v, names: f"forecast category {str(v).replace('_', ' ') or 'of the stage'}",
    "source": lambda v, names: "not from a lead" if v == "none" else f"lead source {v}",
    "stage": lambda v, names: f"in stage {names.get(int(v), v)}",
}


def owner_rate(frame: Frame, prior: float) -> np.ndarray:
    """The owner's trailing win rate, shrunk towards the pipeline's rate by ``OWNER_PRIOR``
    pseudo-deals (a rep with few closings is taken as average)."""
    won, closed = frame.columns["owner_won"], frame.columns["owner_closed"]
    return (won + OWNER_PRIOR * prior) / (closed + OWNER_PRIOR)


def _category_values(frame: Frame, name: str) -> np.ndarray:
    if name == "stage":
        return frame.columns["stage"].astype(int).astype(str)
    return frame.categories[name].astype(str)


def design(frame: Frame, params: dict) -> tuple[np.ndarray, list[str]]:
    """The design matrix of ``frame`` under ``params`` (numeric columns, then one-hot
    columns per category in the stored vocabulary) and each column's factor name."""
    parts, groups = [], []
    for name in params["numeric"]:
        parts.append(NUMERIC[name][0](frame, params["prior"]).reshape(-1, 1))
        groups.append(name)
    for name in CATEGORICAL:
        values = _category_values(frame, name)
        for v in params["categories"][name]:
            parts.append((values == v).astype(float).reshape(-1, 1))
            groups.append(name)
    return np.hstack(parts) if parts else np.zeros((len(frame), 0)), groups


def folds(frame: Frame) -> np.ndarray:
    """A deal's fold (0–4) from its id: every sample of a deal falls in the same fold."""
    return (frame.columns["deal"].astype(np.int64) * 2654435761 % 4294967296) % FOLDS


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def fit(frame: Frame, labels: np.ndarray) -> dict:
    """Train on ``frame`` (rows of closed deals at sampled dates) with ``labels`` (1 = won):
    logistic regression on three folds in five, Platt calibration on one, scores on the
    last. Each deal weighs the same however many samples it has."""
    # scikit-learn is imported here, where a model is trained, so the pages that only read
    # stored coefficients (and every web worker's start) never load it.
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import brier_score_loss, log_loss
    from sklearn.preprocessing import StandardScaler

    prior = float(labels.mean()) if len(labels) else 0.0
    params = {
        "numeric": list(NUMERIC),
        "categories": {
            name: sorted(set(_category_values(frame, name).tolist())) for name in CATEGORICAL
        },
        "prior": prior,
    }
    X, groups = design(frame, params)
    fold = folds(frame)
    deals = frame.columns["deal"]
    _, inverse, counts = np.unique(deals, return_inverse=True, return_counts=True)
    weights = 1.0 / counts[inverse]
    train = (fold != CALIBRATION_FOLD) & (fold != VALIDATION_FOLD)
    calib, valid = fold == CALIBRATION_FOLD, fold == VALIDATION_FOLD
    if len(set(labels[train].tolist())) < 2 or len(set(labels[calib].tolist())) < 2:
        train = calib = np.ones(len(labels), dtype=bool)
    scaler = StandardScaler().fit(X[train])
    Z = scaler.transform(X)
    clf = LogisticRegression(C=C_REGULARISATION, max_iter=500)
    clf.fit(Z[train], labels[train], sample_weight=weights[train])
    raw = Z @ clf.coef_[0] + clf.intercept_[0]
    platt = LogisticRegression(C=1e6, max_iter=500)
    platt.fit(raw[calib].reshape(-1, 1), labels[calib], sample_weight=weights[calib])
    a, c = float(platt.coef_[0][0]), float(platt.intercept_[0])
    scale = np.where(scaler.scale_ == 0, 1.0, scaler.scale_)
    params.update(
        mean=scaler.mean_.tolist(),
        scale=scale.tolist(),
        groups=groups,
        coef=clf.coef_[0].tolist(),
        intercept=float(clf.intercept_[0]),
        platt={"a": a, "b": c},
    )
    params["base"] = float(_sigmoid(a * params["intercept"] + c))
    validation = {}
    if valid.any() and len(set(labels[valid].tolist())) == 2:
        p = predict(params, frame.take(valid))
        stage = np.clip(frame.columns["prob"][valid] / 100.0, EPS, 1 - EPS)
        y = labels[valid]
        validation = {
            "rows": int(valid.sum()),
            "brier": float(brier_score_loss(y, p)),
            "log_loss": float(log_loss(y, np.clip(p, EPS, 1 - EPS), labels=[0, 1])),
            "brier_stage": float(brier_score_loss(y, stage)),
            "log_loss_stage": float(log_loss(y, stage, labels=[0, 1])),
            "calibration": calibration_table(y, p),
        }
    return {"params": params, "validation": validation}


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 5) -> list[dict]:
    """Predicted against observed win rate in equal-width bins of predicted probability."""
    out = []
    edges = np.linspace(0, 1, bins + 1)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mask = (p >= lo) & ((p < hi) if hi < 1 else (p <= hi))
        if mask.any():
            out.append(
                {
                    "from": round(float(lo) * 100),
                    "to": round(float(hi) * 100),
                    "n": int(mask.sum()),
                    "predicted": float(p[mask].mean()),
                    "observed": float(y[mask].mean()),
                }
            )
    return out


def _standardised(params: dict, frame: Frame) -> np.ndarray:
    X, _ = design(frame, params)
    return (X - np.asarray(params["mean"])) / np.asarray(params["scale"])


def logits(params: dict, frame: Frame) -> np.ndarray:
    """Calibrated logits of the rows."""
    raw = _standardised(params, frame) @ np.asarray(params["coef"]) + params["intercept"]
    return params["platt"]["a"] * raw + params["platt"]["b"]


def predict(params: dict, frame: Frame) -> np.ndarray:
    """Calibrated win probabilities (0–1) of the rows."""
    return _sigmoid(logits(params, frame))


def explain(params: dict, frame: Frame, stage_names: dict[int, str], top: int = 3):
    """Per row: (probability 0–1, base 0–1, factors) with the ``top`` factors that moved the
    probability most and, last, the rest as one; the points add up to
    100 × (probability − base)."""
    Z = _standardised(params, frame)
    contrib = Z * np.asarray(params["coef"]) * params["platt"]["a"]
    groups = np.asarray(params["groups"])
    names = list(dict.fromkeys(params["groups"]))
    by_group = np.column_stack([contrib[:, groups == g].sum(axis=1) for g in names])
    base_logit = params["platt"]["a"] * params["intercept"] + params["platt"]["b"]
    total = by_group.sum(axis=1)
    p0 = _sigmoid(base_logit)
    p = _sigmoid(base_logit + total)
    # Secant slope of the sigmoid between the two logits (its derivative where they meet).
    near = np.abs(total) < 1e-9
    slope = np.where(near, p0 * (1 - p0), (p - p0) / np.where(near, 1.0, total))
    points = by_group * slope.reshape(-1, 1) * 100.0
    rate = owner_rate(frame, params["prior"])
    # The ``top`` largest factors of every row at once; labels only for those.
    order = np.argsort(-np.abs(points), axis=1)
    top_idx = order[:, :top]
    top_points = np.take_along_axis(points, top_idx, axis=1)
    rest = points.sum(axis=1) - top_points.sum(axis=1)
    columns = frame.columns
    out = []
    for i in range(len(frame)):
        factors = []
        for j, value in zip(top_idx[i], top_points[i], strict=True):
            g = names[j]
            if g in NUMERIC:
                raw = {"owner_rate": float(rate[i])} if g == "owner_rate" else {}
                raw.setdefault(g, float(columns[g][i]) if g in columns else 0.0)
                label = NUMERIC[g][1](raw)
            else:
                v = columns["stage"][i] if g == "stage" else frame.categories[g][i]
                label = CATEGORY_LABELS[g](v, stage_names)
            factors.append({"factor": g, "label": label, "points": round(float(value), 4)})
        factors.append(
            {"label": "All other factors", "points": round(float(rest[i]), 4), "rest": True}
        )
        out.append((float(p[i]), float(p0), factors))
    return out


def scores(y: np.ndarray, p: np.ndarray) -> dict:
    """Mean Brier score and log loss of probabilities ``p`` (0–1) for outcomes ``y``."""
    if not len(y):
        return {"brier": None, "log_loss": None, "n": 0}
    q = np.clip(p, EPS, 1 - EPS)
    return {
        "brier": float(np.mean((p - y) ** 2)),
        "log_loss": float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))),
        "n": int(len(y)),
    }


def finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x
