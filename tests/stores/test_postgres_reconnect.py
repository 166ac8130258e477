"""A PostgreSQL store whose database comes back answers the first request after it.

The connection pool retries a lost database with a growing delay; without a bound on it,
a database back after an outage of some seconds stays unused for as long again, and every
decision meanwhile goes to the spool.
"""

from __future__ import annotations

import time

import pytest

from consentkit.errors import StoreError
from consentkit.stores import open_store

from ..pg_server import PgServer

KEYS = ["k" * 32]


def test_the_first_request_after_a_long_outage_reaches_the_database(
    own_cluster: PgServer,
) -> None:
    store = open_store(own_cluster.new_database(), receipt_keys=KEYS, timeout=1.0)
    try:
        assert store.head() is None  # empty, and reachable
        own_cluster.pg_ctl("stop")
        # Requests during the outage: each fails after the store's timeout, while the
        # pool keeps trying to reconnect with a growing delay between attempts.
        failures = 0
        deadline = time.monotonic() + 8.0
        while time.monotonic() < deadline:
            with pytest.raises(StoreError):
                store.head()
            failures += 1
        assert failures >= 4
        own_cluster.pg_ctl("start")
        assert store.head() is None  # the first request after the restart
    finally:
        store.close()
