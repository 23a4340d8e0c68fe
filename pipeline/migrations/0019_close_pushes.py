from django.db import migrations, models

from pipeline.services.close_pushes import recount_close_pushes


def recount(apps, schema_editor):
    recount_close_pushes(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0018_percent_style"),
    ]

    operations = [
        migrations.AddField(
            model_name="opportunity",
            name="close_pushed_days",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="opportunity",
            name="close_pushes",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        # What the field history already says of each deal.
        migrations.RunPython(recount, migrations.RunPython.noop, elidable=True),
    ]
