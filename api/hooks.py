"""Domain events → webhook events (connected in ``ApiConfig.ready``).

Each hook runs inside the service's transaction, serializes the record as the API shows it,
and leaves the delivery to :func:`api.webhooks.emit` (after commit; nothing for a rolled-back
change).
"""

from __future__ import annotations

from api import webhooks
from api.models import WebhookEvent


def _deal(opportunity) -> dict:
    from api.serializers import OpportunitySerializer

    return OpportunitySerializer(opportunity).data


def _lead(lead) -> dict:
    from api.serializers import LeadSerializer

    return LeadSerializer(lead).data


def _by(by) -> dict:
    return {"actor": getattr(by, "pk", None)}


def deal_created(*, opportunity, by) -> None:
    webhooks.emit(WebhookEvent.DEAL_CREATED, {**_deal(opportunity), **_by(by)})


def deal_changed(*, opportunity, by, fields) -> None:
    data = None
    if "owner" in fields:
        data = data or {**_deal(opportunity), **_by(by)}
        webhooks.emit(WebhookEvent.DEAL_REASSIGNED, data)
    if "amount" in fields:
        data = data or {**_deal(opportunity), **_by(by)}
        webhooks.emit(WebhookEvent.DEAL_AMOUNT_CHANGED, data)


def deal_moved(*, opportunity, by) -> None:
    data = {**_deal(opportunity), **_by(by)}
    webhooks.emit(WebhookEvent.DEAL_STAGE_CHANGED, data)
    if opportunity.stage.kind == "won":
        webhooks.emit(WebhookEvent.DEAL_WON, data)
    elif opportunity.stage.kind == "lost":
        webhooks.emit(WebhookEvent.DEAL_LOST, data)


def lead_created(*, lead, by) -> None:
    webhooks.emit(WebhookEvent.LEAD_CREATED, {**_lead(lead), **_by(by)})


def lead_converted(*, lead, opportunity, by) -> None:
    webhooks.emit(WebhookEvent.LEAD_CONVERTED, {**_lead(lead), **_by(by)})
