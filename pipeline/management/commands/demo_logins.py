from django.core.management.base import BaseCommand

from accounts.models import User
from pipeline.demo import DEMO_PASSWORD


class Command(BaseCommand):
    help = "Print the demo users to log in as, and the address to open."

    def add_arguments(self, parser):
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000",
            help="Where the app is served (make run passes its HOST and PORT).",
        )

    def handle(self, *args, **options):
        users = list(User.objects.filter(username__in=["admin", "manager1", "rep1", "rep2"]))
        if not users:
            self.stdout.write("No demo users; run `manage.py seed_demo` first.")
            return
        self.stdout.write(f"\nOpportune demo — {options['url'].rstrip('/')}/accounts/login/")
        self.stdout.write(f"Password for every demo user: {DEMO_PASSWORD}")
        for u in sorted(
            users, key=lambda u: (["admin", "manager", "rep"].index(u.role), u.username)
        ):
            team = f", team {u.team}" if u.team_id else ""
            self.stdout.write(f"  {u.username:<10} {u.get_role_display()}{team}")
        self.stdout.write("  (also manager2, manager3 and rep3 … rep12)\n")
