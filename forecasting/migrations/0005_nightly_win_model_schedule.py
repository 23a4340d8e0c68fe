"""The nightly training of the win-probability models as a django-celery-beat periodic task
(03:00 in the configured time zone, after the 02:00 snapshot), editable in Django admin."""

from django.conf import settings
from django.db import migrations

TASK_NAME = "Nightly win-probability models"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour="3",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={
            "task": "forecasting.tasks.train_win_models",
            "crontab": crontab,
            "interval": None,
            "enabled": True,
            "description": (
                "Trains each pipeline's win-probability model on the trailing 24 months, "
                "back-tests it against the stage percentages over the past year and scores "
                "the open deals."
            ),
        },
    )


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("forecasting", "0004_win_models"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
