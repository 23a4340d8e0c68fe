import json

import pytest
from django.core.management import CommandError, call_command

from pipeline.models import Opportunity
from tests.factories import stage


@pytest.mark.django_db
def test_import_records_dry_run_then_import(tmp_path, capsys, admin_user, pipeline, lost_reason):
    file = tmp_path / "deals.csv"
    file.write_text("Deal,Value,Stage\r\nA,10,Engaging\r\nB,-1,Engaging\r\n", encoding="utf-16")
    mapping = tmp_path / "map.json"
    mapping.write_text(
        json.dumps(
            {
                "pipeline": pipeline.pk,
                "stage_map": {"Engaging": stage(pipeline, "Discovery").pk},
            }
        )
    )
    call_command(
        "import_records", str(file), "--kind", "deals", "--mapping", str(mapping), "--dry-run"
    )
    out = capsys.readouterr().out
    assert "UTF-16" in out and "create 1" in out and "refuse 1" in out
    assert "row 3 · Value · '-1': The amount cannot be negative." in out
    assert not Opportunity.objects.exists()
    with pytest.raises(CommandError, match="rows are refused"):
        call_command("import_records", str(file), "--kind", "deals", "--mapping", str(mapping))
    call_command(
        "import_records", str(file), "--kind", "deals", "--mapping", str(mapping), "--valid-only"
    )
    assert list(Opportunity.objects.values_list("name", flat=True)) == ["A"]


@pytest.mark.django_db
def test_import_records_refuses_unknown_mapping_and_missing_file(tmp_path, admin_user):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_records", str(tmp_path / "nope.csv"), "--kind", "deals")
    file = tmp_path / "x.csv"
    file.write_text("Deal,Stage\nA,B\n")
    with pytest.raises(CommandError, match="No saved mapping"):
        call_command("import_records", str(file), "--kind", "deals", "--mapping", "zzz")
