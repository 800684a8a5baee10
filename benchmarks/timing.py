"""Timing a route in process: its milliseconds over several requests, and its SQL statements."""

from __future__ import annotations

import statistics
import time

from sqlalchemy import event


def timings(client, path: str, headers: dict, runs: int, warm: bool = True) -> list[float]:
    """Return the milliseconds of each of `runs` requests (after one to warm up, if `warm`)."""
    if warm:
        assert client.get(path, headers=headers).status_code == 200, path
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        out.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, path
    return out


def statements(app, client, path: str, headers: dict) -> int:
    """Return how many SQL statements one request runs."""
    engine = app.extensions["shipcall.db"].engine
    count = [0]

    def counted(*_args):
        count[0] += 1

    event.listen(engine, "before_cursor_execute", counted)
    try:
        assert client.get(path, headers=headers).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    return count[0]


def p95(values: list[float]) -> float:
    """Return the 95th percentile."""
    return statistics.quantiles(values, n=20)[-1]
