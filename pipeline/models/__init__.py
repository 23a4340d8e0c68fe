"""The sales domain: accounts and people, leads, pipelines and stages, opportunities, their
stage transitions and field history, and activities.

Models hold fields, constraints, indexes and small derived properties only. Every business
action that writes (``convert_lead``, ``move_opportunity`` ...) lives in
``pipeline.services``; nothing else assigns an opportunity's stage.

One module per kind of record; this package names them all, so ``from pipeline.models import
Opportunity`` works wherever the code lives.
"""

from pipeline.models.activities import (
    ACTIVITY_TARGETS,
    Activity,
    ActivityQuerySet,
    activity_target_flags,
)
from pipeline.models.companies import Company, DealLinkedQuerySet
from pipeline.models.contacts import Contact
from pipeline.models.exchange_rates import ExchangeRate
from pipeline.models.leads import Lead
from pipeline.models.line_items import LineItem
from pipeline.models.opportunities import Opportunity, OpportunityQuerySet, StageTransition
from pipeline.models.products import Product, ProductPrice
from pipeline.models.scores import DealScore
from pipeline.models.stages import (
    MONEY,
    PERCENT,
    ExitCriterion,
    ForecastCategory,
    LostReason,
    Pipeline,
    ProbabilitySource,
    Stage,
)

__all__ = [
    "ACTIVITY_TARGETS",
    "MONEY",
    "PERCENT",
    "Activity",
    "ActivityQuerySet",
    "Company",
    "Contact",
    "DealLinkedQuerySet",
    "DealScore",
    "ExchangeRate",
    "ExitCriterion",
    "ForecastCategory",
    "Lead",
    "LineItem",
    "LostReason",
    "Opportunity",
    "OpportunityQuerySet",
    "Pipeline",
    "ProbabilitySource",
    "Product",
    "ProductPrice",
    "Stage",
    "StageTransition",
    "activity_target_flags",
]
