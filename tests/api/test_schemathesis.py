"""Property-based tests from the live OpenAPI schema (schemathesis): for every operation and
every role's token, a fixed number of generated requests (derandomized, so CI runs the same
cases every time) must never answer 500 and must conform to the schema: status codes,
content types, headers and bodies as documented."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES_PER_OPERATION = 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def tokens_by_role(db):
    """A read-and-write token for a rep, a manager and an admin, each with records to see."""
    from api import tokens
    from pipeline import services
    from tests.factories import (
        LeadFactory,
        LostReasonFactory,
        OpportunityFactory,
        PipelineFactory,
        TeamFactory,
        UserFactory,
        make_manager,
    )

    team = TeamFactory(name="Schema team")
    manager = make_manager(team, username="schema_manager")
    rep = UserFactory(username="schema_rep", team=team)
    admin = UserFactory(username="schema_admin", role="admin")
    pipeline = PipelineFactory(name="Schema pipeline")
    LostReasonFactory(name="Schema reason")
    for n in range(3):
        deal = OpportunityFactory(owner=rep, pipeline=pipeline, name=f"Schema deal {n}")
        LeadFactory(owner=rep)
        services.log_activity(by=rep, kind="call", subject="Call", opportunity=deal)
    out = {}
    for role, user in (("rep", rep), ("manager", manager), ("admin", admin)):
        token, raw = tokens.create_token(user=user, by=user, name="schema", scope="read_write")
        token.throttle_rate = "100000/min"
        token.save(update_fields=["throttle_rate"])
        out[role] = f"Bearer {raw}"
    return out


@pytest.fixture(autouse=True)
def _keep_the_test_connection(db):
    """Requests go through the application's WSGI handler in the test's transaction: like
    Django's test client, the handler must not close the connection after each request."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _live_schema():
    """The schema as the running application serves it at /api/schema/ (no database needed)."""
    from config.wsgi import application

    loaded = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    # The schema's own examples and a fixed number of generated cases per operation; the
    # coverage phase (every boundary of every parameter) would multiply the cases unbounded.
    loaded.config.phases.update(phases=["examples", "fuzzing"])
    return loaded


schema = _live_schema()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_schema_every_operation_every_role(case, tokens_by_role):
    for header in tokens_by_role.values():
        response = case.call(headers={"Authorization": header})
        case.validate_response(response, checks=CHECKS)
