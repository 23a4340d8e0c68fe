from django.db import migrations

# The rate of a currency on a day (its latest rate on or before it), as a function the
# planner may run in parallel workers: a correlated subquery in a sum is "parallel
# restricted", which keeps every report's scan of a year of deals on one core
# (pipeline.conversion.RateOn).
CREATE = """
CREATE OR REPLACE FUNCTION opportune_rate_on(code varchar, day date) RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT fx.rate FROM pipeline_exchangerate fx
    WHERE fx.currency = code AND fx.on_date <= day
    ORDER BY fx.on_date DESC LIMIT 1
$$
"""
DROP = "DROP FUNCTION IF EXISTS opportune_rate_on(varchar, date)"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0020_closed_rate"),
    ]

    operations = [migrations.RunPython(create, drop)]
