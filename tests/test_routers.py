"""The read-replica router (config/routers.py).

The decisions are tested in this process; what each page really reads is tested against two
real PostgreSQL databases, a primary and a "replica" copied from it and then left behind (as
a lagging replica is), by a fresh Django process started with ``DATABASE_URL`` and
``DATABASE_REPLICA_URL`` pointing at them (no test mirroring there).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import transaction
from django.http import HttpResponse

from config.routers import (
    PIN_COOKIE,
    REPLICA,
    PinPrimaryAfterWriteMiddleware,
    ReplicaRouter,
    reads_from_replica,
    replica_reads,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = DATABASE_URL.startswith("postgres")

router = ReplicaRouter()


pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES:UserWarning")


@pytest.fixture
def with_replica(settings):
    """A ``replica`` alias in settings, for the router's decisions (no query is made)."""
    settings.DATABASES = {**settings.DATABASES, REPLICA: {**settings.DATABASES["default"]}}


def test_router_without_replica_leaves_everything_on_default(settings):
    assert REPLICA not in settings.DATABASES
    with replica_reads():
        assert router.db_for_read(object) is None


def test_router_reads_go_to_the_replica_only_inside_replica_reads(with_replica):
    assert router.db_for_read(object) is None
    with replica_reads():
        assert router.db_for_read(object) == REPLICA
    assert router.db_for_read(object) is None  # the mark ends with the block


def test_router_reads_inside_a_transaction_stay_on_the_primary(with_replica, db):
    with replica_reads(), transaction.atomic():
        assert router.db_for_read(object) == "default"


def test_router_writes_and_migrations_never_touch_the_replica(with_replica):
    with replica_reads():
        assert router.db_for_write(object) == "default"
    assert router.allow_migrate(REPLICA, "pipeline") is False
    assert router.allow_migrate("default", "pipeline") is None


def test_reads_from_replica_routes_only_safe_methods(with_replica, rf):
    seen = {}

    @reads_from_replica
    def view(request):
        seen[request.method] = router.db_for_read(object)
        return None

    view(rf.get("/"))
    view(rf.post("/"))
    assert seen == {"GET": REPLICA, "POST": None}


def test_reads_from_replica_after_own_write_reads_the_primary(with_replica, rf, settings):
    settings.OPPORTUNE_REPLICA_PIN_SECONDS = 15
    middleware = PinPrimaryAfterWriteMiddleware(lambda request: HttpResponse())
    assert PIN_COOKIE not in middleware(rf.get("/")).cookies
    pinned = middleware(rf.post("/")).cookies[PIN_COOKIE]
    assert pinned["max-age"] == 15 and pinned["httponly"]

    seen = []

    @reads_from_replica
    def view(request):
        seen.append(router.db_for_read(object))

    view(rf.get("/"))
    request = rf.get("/")
    request.COOKIES[PIN_COOKIE] = "1"
    view(request)
    assert seen == [REPLICA, None]


def test_pin_cookie_is_not_set_without_a_replica(rf):
    middleware = PinPrimaryAfterWriteMiddleware(lambda request: HttpResponse())
    assert PIN_COOKIE not in middleware(rf.post("/")).cookies


def test_replica_alias_is_a_test_mirror_of_default():
    result = subprocess.run(
        [sys.executable, "-c", "import json, django; django.setup(); "
         "from django.conf import settings as s; print(json.dumps(s.DATABASES['replica']))"],
        cwd=BASE_DIR, capture_output=True, text=True, timeout=60,
        env={**os.environ, "DATABASE_REPLICA_URL": "postgres://u@replica.internal:5432/crm",
             "DJANGO_SETTINGS_MODULE": "config.settings", "OPPORTUNE_DEV": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    replica = json.loads(result.stdout.strip().splitlines()[-1])
    assert (replica["HOST"], replica["NAME"]) == ("replica.internal", "crm")
    assert replica["TEST"]["MIRROR"] == "default"
    assert replica["OPTIONS"]["options"] == "-c jit=off"
    assert replica["OPTIONS"]["connect_timeout"] == 3  # an unreachable replica fails fast


# --- two real databases ----------------------------------------------------------------------

SEED = """
import datetime as dt, json
from decimal import Decimal
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.utils import timezone
from tests.factories import OpportunityFactory, PipelineFactory, TeamFactory, UserFactory
from tests.factories import make_manager
team = TeamFactory(name="East")
manager = make_manager(team, username="manager")
rep = UserFactory(username="rep", team=team)
deal = OpportunityFactory(owner=rep, pipeline=PipelineFactory(name="New business"),
                          name="Replicated deal", amount=Decimal("1234"),
                          expected_close_date=timezone.localdate() + dt.timedelta(days=3))
print(json.dumps({"deal": deal.pk}))
"""

PROBE = """
import json, sys
from decimal import Decimal
import django
django.setup()
from django.db import transaction
from django.test import Client
from django.urls import reverse
from config.routers import replica_reads
from accounts.models import User
from pipeline import services
from pipeline.models import Opportunity

deal_id = int(sys.argv[1])
out = {}
if sys.argv[2] == "write":
    manager = User.objects.get(username="manager")
    with replica_reads():
        deal = Opportunity.objects.get(pk=deal_id)  # read from the replica
        out["read_in_block"] = deal.name
        services.update_opportunity(opportunity=deal, by=manager, version=deal.version,
                                    name="Renamed on primary", amount=Decimal("5678"))
        with transaction.atomic():
            out["read_in_transaction"] = Opportunity.objects.get(pk=deal_id).name
        out["read_after_write"] = Opportunity.objects.get(pk=deal_id).name
    out["primary"] = Opportunity.objects.using("default").get(pk=deal_id).name
    out["replica"] = Opportunity.objects.using("replica").get(pk=deal_id).name
    out["default_read"] = Opportunity.objects.get(pk=deal_id).name

client = Client()
client.force_login(User.objects.get(username="manager"))
pages = {
    "board": reverse("pipeline:board"),
    "deal": Opportunity.objects.using("default").get(pk=deal_id).get_absolute_url(),
    "dashboard": reverse("forecasting:dashboard"),
    "dashboard_deals": reverse("forecasting:deals") + "?metric=weighted",
    "report_deals": reverse("forecasting:report_deals"),
    "report_pipeline": reverse("forecasting:report_pipeline"),
}
for key, url in pages.items():
    response = client.get(url)
    body = response.content.decode()
    out[key] = {
        "status": response.status_code,
        "renamed": "Renamed on primary" in body or "5,678" in body,
        "original": "Replicated deal" in body or "1,234" in body,
    }
# A manager saves a forecast call and lands on the dashboard: they read the primary for a few
# seconds (and see it); another browser still reads the lagging replica.
if sys.argv[2] == "write":
    writer = Client()
    writer.force_login(User.objects.get(username="manager"))
    rep = User.objects.get(username="rep")
    saved = writer.post(reverse("forecasting:adjust") + f"?rep={rep.pk}",
                        {"amount": "4321", "note": "Replica check"})
    mine = writer.get(pages["dashboard"]).content.decode()
    theirs = client.get(pages["dashboard"]).content.decode()
    out["own_write"] = {
        "saved": saved.status_code,
        "pinned": "opportune_primary" in writer.cookies,
        "writer_sees_it": "4,321" in mine,
        "others_see_it": "4,321" in theirs,
    }
print(json.dumps(out))
"""


def _admin():
    import psycopg

    return psycopg.connect(DATABASE_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True)


def _run(script, *args, **env):
    result = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        cwd=BASE_DIR, capture_output=True, text=True, timeout=180,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "OPPORTUNE_DEV": "1",
             "CONN_MAX_AGE": "0", "REDIS_URL": "", "DATABASE_REPLICA_URL": "", **env},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def primary_and_replica():
    """Two real databases: a migrated primary with one deal, and a copy of it taken then
    (``CREATE DATABASE … TEMPLATE``), which later writes to the primary never reach."""
    from psycopg import sql

    base = DATABASE_URL.rsplit("/", 1)[0]
    stem = f"{DATABASE_URL.rsplit('/', 1)[1]}_{os.getpid()}"
    names = {"primary": f"{stem}_primary", "replica": f"{stem}_replica"}
    with _admin() as admin:
        for name in names.values():
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(names["primary"])))
    try:
        seeded = _run(SEED, DATABASE_URL=f"{base}/{names['primary']}")
        with _admin() as admin:
            admin.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(names["replica"]), sql.Identifier(names["primary"])
                )
            )
        yield {
            "deal": seeded["deal"],
            "DATABASE_URL": f"{base}/{names['primary']}",
            "DATABASE_REPLICA_URL": f"{base}/{names['replica']}",
        }
    finally:
        with _admin() as admin:
            for name in names.values():
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL: set DATABASE_URL")
def test_pages_read_the_database_the_router_names(primary_and_replica):
    dbs = primary_and_replica
    seen = _run(PROBE, dbs["deal"], "write", DATABASE_URL=dbs["DATABASE_URL"],
                DATABASE_REPLICA_URL=dbs["DATABASE_REPLICA_URL"])  # fmt: skip

    # The write made under replica reads went to the primary, and only there.
    assert seen["read_in_block"] == "Replicated deal"
    assert (seen["primary"], seen["replica"]) == ("Renamed on primary", "Replicated deal")
    # Reads inside a transaction see the primary; outside it, the marked block reads the replica.
    assert seen["read_in_transaction"] == "Renamed on primary"
    assert seen["read_after_write"] == "Replicated deal"
    assert seen["default_read"] == "Renamed on primary"  # unmarked code reads the primary

    replica = {"status": 200, "renamed": False, "original": True}
    assert seen["board"] == {"status": 200, "renamed": True, "original": False}
    assert seen["deal"]["status"] == 200 and seen["deal"]["renamed"]  # (its history shows the old)
    assert seen["dashboard"] == replica
    assert seen["dashboard_deals"] == replica
    assert seen["report_deals"] == replica
    assert seen["report_pipeline"] == replica
    # ... except for a user who has just written: they see the primary for a few seconds.
    assert seen["own_write"] == {
        "saved": 302,
        "pinned": True,
        "writer_sees_it": True,
        "others_see_it": False,
    }


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL: set DATABASE_URL")
def test_pages_fall_back_to_the_primary_when_the_replica_is_down(primary_and_replica):
    dbs = primary_and_replica
    gone = dbs["DATABASE_REPLICA_URL"] + "_missing"  # a server that refuses the connection
    seen = _run(PROBE, dbs["deal"], "read", DATABASE_URL=dbs["DATABASE_URL"],
                DATABASE_REPLICA_URL=gone)  # fmt: skip
    # Served from the primary, like the board (whatever the primary holds by now).
    for page in ("dashboard", "dashboard_deals", "report_deals", "report_pipeline"):
        assert seen[page] == seen["board"], page
    assert seen["board"]["status"] == 200 and seen["deal"]["status"] == 200
