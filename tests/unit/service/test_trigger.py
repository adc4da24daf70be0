"""When a webhook-driven cycle is due (serve.min_new_labels, serve.max_wait)."""

from __future__ import annotations

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
