"""When a webhook-driven cycle is due (serve.min_new_labels, serve.max_wait)."""

from __future__ import annotations

import pytest

from activelearn.service.trigger import Pending, Trigger


def test_due_at_the_nth_change_and_not_before():
    t = Trigger(min_new_labels=3, max_wait=60)
    t.add(1, now=0)
    t.add(1, now=1)
    assert t.due(2) is None
    t.add(1, now=2)
    assert t.due(2) == "3 changes"


def test_due_max_wait_after_the_first_change():
    t = Trigger(min_new_labels=100, max_wait=60)
    assert t.due(1000) is None  # nothing pending: never due
    t.add(2, now=10)
    t.add(1, now=50)
    assert t.due(69.9) is None
    assert t.due(70) == "60 s since the first of 3 changes"


def test_take_empties_and_give_back_restores_the_first_time():
    t = Trigger(min_new_labels=3, max_wait=60)
    t.add(3, now=5)
    taken = t.take()
    assert taken == Pending(3, 5) and t.pending == Pending() and t.due(1000) is None
    t.add(1, now=20)
    t.give_back(taken)
    assert t.pending == Pending(4, 5)
    assert t.due(20) == "4 changes"


def test_zero_changes_do_not_start_the_clock():
    t = Trigger(min_new_labels=3, max_wait=1)
    t.add(0, now=0)
    assert t.pending == Pending() and t.due(100) is None


def test_a_failed_cycle_keeps_its_changes_and_waits_a_doubling_delay():
    t = Trigger(min_new_labels=3, max_wait=600, retry_after=30)
    t.add(3, now=0)
    taken = t.take()
    assert t.failed(taken, now=10) == 30
    assert t.pending == Pending(3, 0)  # kept, with the time of its first change
    assert t.due(39.9) is None and t.retry_in(39.9) == pytest.approx(0.1)
    t.add(5, now=20)  # more changes do not jump the backoff
    assert t.due(39.9) is None
    assert t.due(40) == "retry 1 after a failed cycle, 8 changes"
    assert [t.failed(t.take(), now=40 + k) for k in range(6)] == [60, 120, 240, 480, 900, 900]
    assert t.failures == 7 and t.pending.changes == 8


def test_a_cycle_that_ran_ends_the_backoff():
    t = Trigger(min_new_labels=3, max_wait=600, retry_after=30)
    t.add(1, now=0)
    t.failed(t.take(), now=0)
    t.failed(t.take(), now=30)
    t.take()
    t.succeeded()
    assert t.failures == 0 and t.retry_in(31) is None and t.pending == Pending()
    t.add(3, now=40)
    assert t.due(40) == "3 changes"  # due at once again, no wait left over
    t.failed(t.take(), now=40)
    assert t.retry_in(40) == 30  # the first delay again


def test_a_retry_after_above_the_cap_is_the_cap():
    t = Trigger(min_new_labels=1, max_wait=600, retry_after=1000)
    t.add(1, now=0)
    assert [t.failed(t.take(), now=0) for _ in range(3)] == [1000, 1000, 1000]
    for _ in range(200):  # no overflow however many failures
        t.failed(t.take(), now=0)
    assert t.retry_in(0) == 1000
