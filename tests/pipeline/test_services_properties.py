"""Properties of the deal services over generated inputs (hypothesis).

Each example runs in its own savepoint that is rolled back, so examples never see each
other's rows while sharing the (expensive) users and pipeline of the test.
"""

from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from pipeline import services
from pipeline.models import Opportunity, StageTransition
from tests.factories import ContactFactory, OpportunityFactory

STAGES = ["Qualification", "Discovery", "Proposal", "Negotiation", "Won", "Lost"]

examples = hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@contextmanager
def _rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def _snapshot(pk):
    row = Opportunity.objects.filter(pk=pk).values().get()
    row.pop("updated_at")
    return (
        row,
        StageTransition.objects.filter(opportunity_id=pk).count(),
        Opportunity.history.filter(id=pk).count(),
    )


@examples
@given(moves=st.lists(st.tuples(st.sampled_from(STAGES), st.booleans()), max_size=10))
def test_move_opportunity_any_sequence_keeps_one_transition_per_stage_entered(
    rep, manager, pipeline, lost_reason, moves
):
    """Moves by the owner rep (refused once the deal is closed) or by the manager: the
    transitions always chain, one per stage entered, and end at the deal's stage."""
    stages = {s.name: s for s in pipeline.stages.all()}
    with _rolled_back():
        contact = ContactFactory(owner=rep, is_decision_maker=True)
        deal = OpportunityFactory(
            owner=rep, pipeline=pipeline, company=contact.company, contact=contact
        )
        entered = ["Qualification"]
        for name, as_rep in moves:
            mover = rep if as_rep else manager
            closed = entered[-1] in ("Won", "Lost")
            if as_rep and closed and name != entered[-1]:
                before = _snapshot(deal.pk)
                with pytest.raises(PermissionDenied):
                    services.move_opportunity(
                        opportunity=deal, to_stage=stages[name], by=mover, version=deal.version
                    )
                assert _snapshot(deal.pk) == before
                continue
            deal = services.move_opportunity(
                opportunity=deal,
                to_stage=stages[name],
                by=mover,
                version=deal.version,
                lost_reason=lost_reason,
            )
            if name != entered[-1]:
                entered.append(name)

        fresh = Opportunity.objects.select_related("stage").get(pk=deal.pk)
        transitions = list(fresh.transitions.select_related("from_stage", "to_stage"))
        assert [t.to_stage.name for t in transitions] == entered
        assert transitions[0].from_stage is None
        for previous, current in zip(transitions, transitions[1:], strict=False):
            assert current.from_stage == previous.to_stage != current.to_stage
        assert fresh.stage == transitions[-1].to_stage
        assert fresh.stage_entered_at == transitions[-1].changed_at
        assert fresh.version == len(entered)
        assert (fresh.closed_on is not None) == fresh.is_closed
        assert (fresh.lost_reason_id is not None) == fresh.stage.is_lost
        assert transitions[-1].probability == fresh.effective_probability


def _not_a_decimal(text):
    try:
        Decimal(text)
    except ArithmeticError:
        return True
    return False


negative = st.decimals(max_value=Decimal("-0.01"), places=2, allow_nan=False, allow_infinity=False)
too_precise = st.decimals(min_value=0, max_value=10**6, places=4).filter(
    lambda d: d.as_tuple().exponent < -2 and d != d.quantize(Decimal("0.01"))
)
too_large = st.decimals(min_value=Decimal("1e12"), max_value=Decimal("1e30"), places=2)
bad_amounts = st.one_of(
    negative,
    negative.map(str),
    too_precise,
    too_large,
    st.floats(),
    st.just(Decimal("NaN")),
    st.just(Decimal("-Infinity")),
    st.text(max_size=12).filter(_not_a_decimal),
    st.none(),
)
bad_probabilities = st.one_of(
    st.integers(max_value=-1),
    st.integers(min_value=101),
    st.integers(max_value=-1).map(str),
    st.floats().filter(lambda f: not f.is_integer()),
    st.just(float("inf")),
    st.just(Decimal("Infinity")),
    st.text(alphabet="abc,.%x ", min_size=1, max_size=8),
)


@examples
@given(
    field_value=st.one_of(
        bad_amounts.map(lambda v: ("amount", v)),
        bad_probabilities.map(lambda v: ("probability", v)),
    ),
    with_valid_change=st.booleans(),
)
def test_update_opportunity_invalid_amount_or_probability_never_changes_the_row(
    rep, opportunity, field_value, with_valid_change
):
    field, value = field_value
    before = _snapshot(opportunity.pk)
    extra = {"name": "Renamed", "next_step": "Call"} if with_valid_change else {}
    with _rolled_back():
        with pytest.raises(ValidationError) as exc:
            services.update_opportunity(
                opportunity=opportunity, by=rep, version=1, **{field: value}, **extra
            )
        assert list(exc.value.message_dict) == [field]
        assert _snapshot(opportunity.pk) == before


@examples
@given(amount=bad_amounts, probability=st.one_of(st.none(), bad_probabilities))
def test_create_opportunity_invalid_amount_never_writes(rep, pipeline, amount, probability):
    with _rolled_back():
        with pytest.raises(ValidationError) as exc:
            OpportunityFactory(owner=rep, pipeline=pipeline, amount=amount, probability=probability)
        expected = {"amount"} if probability is None else {"amount", "probability"}
        assert set(exc.value.message_dict) == expected
        assert not Opportunity.objects.exists()
        assert not StageTransition.objects.exists()


@examples
@given(
    amount=st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2),
    probability=st.one_of(st.none(), st.integers(min_value=0, max_value=100)),
)
def test_update_opportunity_valid_amount_and_probability_round_trip(
    rep, opportunity, amount, probability
):
    with _rolled_back():
        deal = services.update_opportunity(
            opportunity=opportunity, by=rep, version=1, amount=amount, probability=probability
        )
        fresh = Opportunity.objects.get(pk=deal.pk)
        assert fresh.amount == amount and fresh.probability == probability
        changed = amount != Decimal("10000.00") or probability is not None
        assert fresh.version == (2 if changed else 1)
        assert Opportunity.history.filter(id=deal.pk).count() == (2 if changed else 1)
