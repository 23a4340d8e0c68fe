from django.db import migrations, models, transaction

# A deal's stage belongs to the deal's pipeline: a foreign key from the deal's
# (stage_id, pipeline_id) to the stage's (id, pipeline_id), so no write (a service, an
# import, the API, a bulk update, a hand-run statement) can leave a deal in another
# pipeline's stage. Django has no composite foreign keys, hence the SQL; PostgreSQL only
# (SQLite, the laptop's database, relies on the services' own check). The key is added
# NOT VALID and then validated: a database holding such deals from before keeps working
# (new writes are checked) and the deploy log names the problem instead of failing.
CONSTRAINT = "opp_stage_in_pipeline"
ADD = f"""
ALTER TABLE pipeline_opportunity ADD CONSTRAINT {CONSTRAINT}
    FOREIGN KEY (stage_id, pipeline_id) REFERENCES pipeline_stage (id, pipeline_id)
    NOT VALID
"""
VALIDATE = f"ALTER TABLE pipeline_opportunity VALIDATE CONSTRAINT {CONSTRAINT}"
DROP = f"ALTER TABLE pipeline_opportunity DROP CONSTRAINT IF EXISTS {CONSTRAINT}"


def add(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(ADD)
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute(VALIDATE)
    except Exception as error:  # noqa: BLE001 - existing rows only; new writes are checked
        print(
            f"\n  {CONSTRAINT}: some deals are in a stage of another pipeline; new writes are "
            f"checked, the existing rows are not ({error}). Move them to a stage of their "
            f"pipeline, then run: {VALIDATE};"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0026_deal_stages_index"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="stage",
            constraint=models.UniqueConstraint(
                fields=("id", "pipeline"), name="stage_id_pipeline_unique"
            ),
        ),
        migrations.RunPython(add, drop),
    ]
