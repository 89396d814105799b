"""Races for the concurrency tests on PostgreSQL: threads, each with its own connection,
released together at a barrier so that they reach the database at the same moment."""

import threading

from django.db import connections


def race(count: int, work, *, timeout: float = 180) -> tuple[list, list[Exception]]:
    """Run `work(index)` in `count` threads at once. Returns what the calls returned and what
    they raised: errors are collected for the test to assert on, never lost in a thread."""
    barrier = threading.Barrier(count)
    results, errors = [], []

    def run(index):
        try:
            barrier.wait()
            results.append(work(index))
        except Exception as error:  # collected and asserted on
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results, errors
