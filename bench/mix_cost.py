"""Where the load test's CPU goes: its request mix replayed through the app in one process.

    .venv/bin/python bench/mix_cost.py --feedback 1000000              # SQLite
    DATABASE_URL=postgresql://… .venv/bin/python bench/mix_cost.py --feedback 1000000

Draws ``--requests`` paths from ``load_test.next_url`` (the same mix, fixed
seed), sends each through Flask's test client as a signed-in admin and
measures this process's CPU time per request (``time.process_time``: on
SQLite that includes the database; PostgreSQL's server CPU is not counted).
Prints the mean, the throughput two cores could give at that mean, and per
kind of request its median and its share of the CPU, largest first.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import load_test


def kind_of(path: str) -> str:
    """A show page by its module; a list by its address and the filter it uses."""
    address, _, query = path.partition("?")
    if "/show/" in address:
        return address.rsplit("/", 1)[0]
    return f"{address}?{query.split('=')[0]}" if query else address


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--feedback", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    url = common.database_url(args.customers, args.feedback, args.seed)
    common.ensure_database(url, args.customers, args.feedback, args.seed)
    ids = load_test.sample_ids(url)
    app = common.make_app(url)
    client = common.signed_in_client(app)
    rng = random.Random(7)
    paths = [load_test.next_url(rng, ids)[1] for _ in range(args.requests)]
    for _ in range(3):
        client.get("/feedback/list/")
    costs: dict[str, list[float]] = {}
    for path in paths:
        started = time.process_time()
        response = client.get(path)
        costs.setdefault(kind_of(path), []).append((time.process_time() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}")
    total = sum(sum(values) for values in costs.values())
    mean = total / len(paths)
    print(f"{url.split(':')[0]}, {args.feedback} feedback rows, {len(paths)} requests")
    print(f"mean CPU {mean:.1f} ms a request: two cores serve at most {2000 / mean:.0f} a second")
    for kind, values in sorted(costs.items(), key=lambda item: -sum(item[1])):
        print(
            f"  {kind:50s} n={len(values):3d}  median {statistics.median(values):7.1f} ms"
            f"  share {sum(values) / total * 100:5.1f} %"
        )


if __name__ == "__main__":
    main()
