from django.db import migrations, models

from pipeline.services.closed_rates import refresh_closed_rates


def refresh(apps, schema_editor):
    refresh_closed_rates(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0019_close_pushes"),
    ]

    operations = [
        migrations.AddField(
            model_name="opportunity",
            name="closed_rate",
            field=models.DecimalField(
                blank=True, decimal_places=8, editable=False, max_digits=18, null=True
            ),
        ),
        # The rate each closed deal already converts at.
        migrations.RunPython(refresh, migrations.RunPython.noop, elidable=True),
    ]
