"""Contract: notify / wait_for_activity, with short bounded waits."""

from __future__ import annotations

import threading
import time

from rota.stores.base import Store

from .support import make_run


def test_wait_times_out_without_activity(store: Store) -> None:
    started = time.monotonic()
    assert store.wait_for_activity(0.05) is False
    assert 0.04 <= time.monotonic() - started < 1.0


def test_notify_wakes_a_waiter_in_another_thread(store: Store) -> None:
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(store.wait_for_activity(5)))
    waiter.start()
    store.notify()
    waiter.join(timeout=5)
    assert woke == [True]


def test_notify_before_wait_is_not_lost(store: Store) -> None:
    store.notify()
    assert store.wait_for_activity(0.2) is True
    assert store.wait_for_activity(0.0) is False


def test_inserting_a_run_notifies(store: Store) -> None:
    store.wait_for_activity(0)
    store.insert_run(make_run("r1"))
    assert store.wait_for_activity(0.2) is True
