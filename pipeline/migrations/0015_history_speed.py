from django.db import migrations, models

# "What changed" finds the deals whose close date was in a period at some past date through
# their field-history rows (forecasting.selectors._changes_candidates): the history model is
# generated, so its index is kept here, as 0005's.
HISTORY_INDEX = "pipeline_hist_close_asof_idx"


class Migration(migrations.Migration):

    dependencies = [
        ("pipeline", "0014_probability_source"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX {HISTORY_INDEX} ON pipeline_historicalopportunity "
            "(expected_close_date, history_date, id)",
            f"DROP INDEX {HISTORY_INDEX}",
        ),
        migrations.AddIndex(
            model_name="stagetransition",
            index=models.Index(
                fields=["changed_at", "to_stage", "opportunity"],
                name="pipeline_st_span_moves_idx",
            ),
        ),
    ]
