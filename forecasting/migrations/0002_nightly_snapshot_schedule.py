"""The nightly forecast snapshot as a django-celery-beat periodic task (02:00 in the
configured time zone), so admins see and change its schedule in Django admin."""

from django.conf import settings
from django.db import migrations

TASK_NAME = "Nightly forecast snapshot"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour="2",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={
            "task": "forecasting.tasks.snapshot_forecasts",
            "crontab": crontab,
            "interval": None,
            "enabled": True,
            "description": (
                "Takes today's forecast snapshot (per period, owner and pipeline) and the "
                "forecast ranges. Re-running a date rebuilds that date's rows."
            ),
        },
    )


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("forecasting", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
