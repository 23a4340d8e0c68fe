"""Every business action on the sales domain: each validates its input, writes in one
transaction and records its history (stage transitions, field history, timestamps).

Bad input raises :class:`django.core.exceptions.ValidationError` with a message that says
what was wrong and what to do; nothing is written then. An action on a record outside the
caller's scope raises :class:`django.core.exceptions.PermissionDenied`. Nothing but
:mod:`pipeline.services.opportunities` assigns an opportunity's stage.

One module per record kind; :mod:`pipeline.services.validation` holds the checks and parsers
they share. Callers use the package: ``from pipeline import services;
services.move_opportunity(...)``.
"""

from pipeline.services.activities import (
    complete_task,
    log_activity,
    reopen_task,
    update_activity,
)
from pipeline.services.companies import COMPANY_FIELDS, create_company, update_company
from pipeline.services.contacts import CONTACT_FIELDS, create_contact, update_contact
from pipeline.services.leads import (
    LEAD_FIELDS,
    convert_lead,
    create_lead,
    disqualify_lead,
    qualify_lead,
    start_working_lead,
    update_lead,
)
from pipeline.services.line_items import add_line_item, remove_line_item, update_line_item
from pipeline.services.opportunities import (
    CLOSED_EDITABLE,
    OPPORTUNITY_EDITABLE,
    close_lost,
    close_won,
    create_opportunity,
    move_opportunity,
    update_opportunity,
)
from pipeline.services.scores import (
    replace_scores,
    set_model_eligibility,
    set_probability_source,
)
from pipeline.services.validation import (
    parse_currency,
    parse_date,
    parse_money,
    parse_probability,
)

__all__ = [
    "CLOSED_EDITABLE",
    "COMPANY_FIELDS",
    "CONTACT_FIELDS",
    "LEAD_FIELDS",
    "OPPORTUNITY_EDITABLE",
    "add_line_item",
    "close_lost",
    "close_won",
    "complete_task",
    "convert_lead",
    "create_company",
    "create_contact",
    "create_lead",
    "create_opportunity",
    "disqualify_lead",
    "log_activity",
    "move_opportunity",
    "parse_currency",
    "parse_date",
    "parse_money",
    "parse_probability",
    "qualify_lead",
    "remove_line_item",
    "reopen_task",
    "replace_scores",
    "set_model_eligibility",
    "set_probability_source",
    "start_working_lead",
    "update_activity",
    "update_company",
    "update_contact",
    "update_lead",
    "update_line_item",
    "update_opportunity",
]
