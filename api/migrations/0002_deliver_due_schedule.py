"""Due webhook retries are sent by a django-celery-beat periodic task every minute (admins
see and change it in Django admin)."""

from django.db import migrations

TASK_NAME = "Webhook retries"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={
            "task": "api.tasks.deliver_due",
            "interval": every_minute,
            "crontab": None,
            "enabled": True,
            "description": (
                "Sends every webhook delivery whose next attempt is due (retries with "
                "backoff, and first attempts queued while the broker was down)."
            ),
        },
    )


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
