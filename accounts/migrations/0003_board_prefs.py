from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_user_manager_announces_bulk_changes"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="board_density",
            field=models.CharField(
                choices=[("comfortable", "Comfortable"), ("compact", "Compact")],
                default="comfortable",
                help_text=(
                    "Comfortable cards show the next step; compact cards fit more deals on screen."
                ),
                max_length=12,
            ),
        ),
        migrations.AddField(
            model_name="user",
            name="board_collapsed_stages",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Ids of the board columns (stages) this person has collapsed.",
            ),
        ),
    ]
