"""Times `seed_demo --opportunities N` on a fresh PostgreSQL database (or, with DATABASE_URL
set, on that database, which must be empty).

Target (foundation issue): 100,000 opportunities in under 60 s on this 2-core machine.
Last line: {"n": .., "seed_s": .., "rows": ..}
"""

import argparse
import json
import time

from _common import announce, fresh_database, given_database, setup_django


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--opportunities", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    # DATABASE_URL: seed the operator's (empty) database; else a fresh one of its own.
    given = given_database()
    url = given or fresh_database("opportune_bench_seed")
    announce(url, given=bool(given))
    setup_django(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from pipeline import demo

    started = time.perf_counter()
    try:
        counts = demo.seed(opportunities=args.opportunities, seed=args.seed)
    except ValueError as exc:  # the given database is not empty
        raise SystemExit(str(exc)) from exc
    elapsed = time.perf_counter() - started
    for table, n in counts.items():
        print(f"{table:>12}: {n:>9,}")
    print(f"seeded {args.opportunities:,} opportunities in {elapsed:.1f} s")
    print(json.dumps({"n": args.opportunities, "seed_s": round(elapsed, 2),
                      "rows": sum(counts.values())}))  # fmt: skip


if __name__ == "__main__":
    main()
