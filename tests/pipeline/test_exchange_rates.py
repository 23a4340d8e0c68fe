"""Loading dated exchange rates from a CSV (``manage.py load_exchange_rates``): good files,
replacing a day's rate, and bad rows that change nothing and say what to fix."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from pipeline.models import ExchangeRate
from pipeline.services.exchange_rates import load_rates

GOOD = "date,currency,rate\n2026-03-01,EUR,1.0842\n2026-03-02,eur,1.0850\n2026-03-01,GBP,1.27\n"


def _stored():
    return sorted(ExchangeRate.objects.values_list("currency", "on_date", "rate"))


def test_exchange_rates_load_a_good_file(db):
    result = load_rates(GOOD)
    assert (result.created, result.updated) == (3, 0)
    assert _stored() == [
        ("EUR", dt.date(2026, 3, 1), Decimal("1.0842")),
        ("EUR", dt.date(2026, 3, 2), Decimal("1.085")),
        ("GBP", dt.date(2026, 3, 1), Decimal("1.27")),
    ]


def test_exchange_rates_reload_replaces_the_days_rate(db):
    load_rates(GOOD)
    result = load_rates("currency,rate,date,source\nEUR,1.1,2026-03-01,ECB\n")
    assert (result.created, result.updated) == (0, 1)
    assert ExchangeRate.objects.get(currency="EUR", on_date="2026-03-01").rate == Decimal("1.1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("day,currency,rate\n2026-03-01,EUR,1\n", "missing: date"),
        ("date,currency,rate\n", "The file has no rates"),
        ("date,currency,rate\n31/03/2026,EUR,1\n", "Line 2: date “31/03/2026” is not a date"),
        ("date,currency,rate\n2026-03-01,EURO,1\n", "currency “EURO” is not an ISO 4217"),
        ("date,currency,rate\n2026-03-01,USD,1\n", "USD is the reporting currency"),
        ("date,currency,rate\n2026-03-01,EUR,abc\n", "rate “abc” is not a number"),
        ("date,currency,rate\n2026-03-01,EUR,1\n2026-03-02,EUR,x\n", "Line 3: rate “x”"),
        ("date,currency,rate\n2026-03-01,EUR,-1\n", "rate -1 must be above zero"),
        ("date,currency,rate\n2026-03-01,EUR,NaN\n", "is not a number"),
        ("date,currency,rate\n2026-03-01,EUR,1.123456789\n", "at most 8 decimals"),
        (
            "date,currency,rate\n2026-03-01,EUR,1\n2026-03-01,EUR,1.1\n",
            "Line 3: a second rate for EUR on 2026-03-01",
        ),
    ],
)
def test_exchange_rates_bad_file_changes_nothing(db, text, message):
    load_rates("date,currency,rate\n2026-01-01,EUR,1.05\n")
    before = _stored()
    with pytest.raises(ValidationError) as e:
        load_rates(text)
    assert message in " ".join(e.value.messages)
    assert _stored() == before


def test_exchange_rates_every_bad_line_is_reported(db):
    text = "date,currency,rate\n2026-03-01,EUR,1\nbad,EUR,1\n2026-03-03,XXX,0\n"
    with pytest.raises(ValidationError) as e:
        load_rates(text)
    assert [m.split(":")[0] for m in e.value.messages] == ["Line 3", "Line 4"]
    assert "rate 0 must be above zero" in e.value.messages[1]
    assert not ExchangeRate.objects.exists()


def test_exchange_rates_command(db, tmp_path, capsys):
    path = tmp_path / "rates.csv"
    path.write_text(GOOD, encoding="utf-8")
    call_command("load_exchange_rates", str(path))
    assert "Loaded 3 rates" in capsys.readouterr().out
    path.write_text("date,currency,rate\n2026-03-05,EUR,zero\n", encoding="utf-8")
    with pytest.raises(CommandError) as e:
        call_command("load_exchange_rates", str(path))
    assert "nothing changed" in str(e.value) and "Line 2" in str(e.value)
    with pytest.raises(CommandError, match="No file at"):
        call_command("load_exchange_rates", str(tmp_path / "missing.csv"))
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(CommandError, match="not a UTF-8"):
        call_command("load_exchange_rates", str(path))
    assert len(_stored()) == 3


def test_exchange_rates_model_refuses_the_reporting_currency(db):
    with pytest.raises(ValidationError, match="reporting currency"):
        ExchangeRate(currency="USD", on_date=dt.date(2026, 1, 1), rate=Decimal(1)).full_clean()
