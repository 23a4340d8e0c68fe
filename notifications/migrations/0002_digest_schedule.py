"""The digest job as a django-celery-beat periodic task every 15 minutes, so admins see and
change its schedule in Django admin. Each run sends the digests whose hour has come in their
users' time zones (at most one per user per day)."""

from django.conf import settings
from django.db import migrations

TASK_NAME = "Daily digests (every 15 minutes)"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="*/15",
        hour="*",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={
            "task": "notifications.tasks.send_digests",
            "crontab": crontab,
            "interval": None,
            "enabled": True,
            "description": (
                "Sends each user's daily digest once their chosen hour has come in their own "
                "time zone; never twice a day, and retries a user whose mail server failed."
            ),
        },
    )


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
