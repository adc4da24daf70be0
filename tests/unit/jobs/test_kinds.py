"""Job kinds declare themselves: adding one is a module (here, this test's KIND) and one
registry line, and it then runs inline and on an RQ worker with the queue, timeout,
retries and description it declares; the built-in kinds keep the ones they always had;
an unknown kind is one line listing the registered ones."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from activelearn.config import JobsConfig
from activelearn.errors import UnknownNameError
from activelearn.jobs import kinds
from activelearn.jobs.executor import InlineExecutor, RQExecutor
from activelearn.jobs.kind import JobKind, Progress
from activelearn.jobs.kinds import available_kinds, get_kind, queue_names, register_kind
from activelearn.jobs.resident import WorkerCache


# -- a kind of the test's own: what a new module under jobs/kinds/ would hold ------------
def run(payload: dict[str, Any], progress: Progress, cache: WorkerCache) -> dict[str, Any]:
    """payload: values. Returns them doubled, one progress unit per value."""
    doubled = []
    for k, value in enumerate(payload["values"]):
        doubled.append(2 * value)
        progress(k + 1)
    return {"doubled": doubled}


KIND = JobKind("double", queue="cpu", timeout="select_timeout", run=run,
               describe=lambda payload: f"double {len(payload['values'])} values")


@pytest.fixture
def double():
    register_kind(KIND)  # the one registry line
    yield KIND
    kinds._KINDS._entries.pop(KIND.name)  # leave the registry as the package has it


PAYLOADS = [{"values": [1, 2, 3]}, {"values": [10]}]
EXPECTED = [{"doubled": [2, 4, 6]}, {"doubled": [20]}]


def test_a_new_kind_runs_inline_by_name_and_by_declaration(double) -> None:
    assert "double" in available_kinds() and get_kind("double") is double
    executor = InlineExecutor()
    assert executor.run("double", PAYLOADS, total=4) == EXPECTED
    assert executor.run(double, PAYLOADS) == EXPECTED


@pytest.mark.redis
def test_a_new_kind_runs_on_an_rq_worker_with_what_it_declares(double, redis_url) -> None:
    from rq import Queue
    from rq.serializers import JSONSerializer

    from activelearn.jobs.worker import ResidentWorker

    cfg = JobsConfig(redis_url=redis_url, select_timeout=77, retries=3, heartbeat=1,
                     wait_for_worker=60)
    executor = RQExecutor(cfg)
    queue = Queue(cfg.cpu_queue, connection=executor.redis, serializer=JSONSerializer)
    out: dict[str, Any] = {}
    controller = threading.Thread(target=lambda: out.update(
        results=executor.run(double, PAYLOADS, total=4)))
    controller.start()
    deadline = time.monotonic() + 30
    while len(queue) < len(PAYLOADS) and time.monotonic() < deadline:
        time.sleep(0.02)
    jobs = queue.get_jobs()
    # the worker in this process (a SimpleWorker), which runs registered kinds only
    worker = ResidentWorker([queue], connection=executor.redis, serializer=JSONSerializer,
                            job_monitoring_interval=1)
    worker.work(burst=True, logging_level="WARNING")
    controller.join(timeout=60)
    assert not controller.is_alive() and out["results"] == EXPECTED
    assert [j.description for j in jobs] == ["double 3 values", "double 1 values"]
    assert all(j.timeout == 77 and j.retries_left == 3 and j.args[0] == "double"
               for j in jobs)
    assert cfg.cpu_queue in queue_names(cfg)


@pytest.mark.parametrize("name, queue, timeout, retried, payload, description", [
    ("train", "activelearn-gpu", 1, False, {"version": "p-r2"}, "train p-r2"),
    ("oof", "activelearn-gpu", 1, True, {"version": "p-r2", "fold": 1, "folds": 5},
     "out-of-fold p-r2 fold 1/5"),
    ("score", "activelearn-gpu", 2, True, {"version": "p-r2", "start": 0, "stop": 100},
     "score p-r2 items 0-100"),
    ("cache", "activelearn-gpu", 2, True, {"item_ids": ["a", "b"]}, "cache 2 images"),
    ("embed", "activelearn-gpu", 2, True, {"start": 5, "stop": 9}, "embed items 5-9"),
    ("select", "activelearn-cpu", 3, True, {"n": 40, "strategy": "margin"},
     "select 40 with margin"),
])
def test_the_built_in_kinds_keep_their_queue_timeout_retries_and_description(
        name, queue, timeout, retried, payload, description) -> None:
    cfg = JobsConfig(redis_url="", train_timeout=1, score_timeout=2, select_timeout=3,
                     retries=4)
    kind = get_kind(name)
    assert kind.name == name and kind.queue_name(cfg) == queue
    assert kind.timeout_s(cfg) == timeout and kind.retries(cfg) == (4 if retried else 0)
    assert kind.describe(payload) == description
    assert queue_names(cfg) == ["activelearn-gpu", "activelearn-cpu"]


def test_an_unknown_kind_is_one_line_listing_the_kinds() -> None:
    expected = ("unknown job kind 'scroe'; available: cache, embed, oof, pretrain, score, "
                "select, train")
    for attempt in (lambda: get_kind("scroe"), lambda: InlineExecutor().run("scroe", [{}])):
        with pytest.raises(UnknownNameError) as err:
            attempt()
        assert str(err.value) == expected


def test_a_declaration_names_a_queue_and_a_timeout_that_exist() -> None:
    with pytest.raises(ValueError, match="queue 'tpu' is not one of gpu, cpu"):
        JobKind("x", queue="tpu", timeout="score_timeout", run=run, describe=str)
    with pytest.raises(ValueError, match="timeout 'score' is not one of train_timeout, "):
        JobKind("x", queue="gpu", timeout="score", run=run, describe=str)


def test_a_worker_cache_keeps_one_entry_per_slot_and_replaces_it_on_a_new_key() -> None:
    cache, built = WorkerCache(), []

    def build(name: str):
        def load() -> str:
            built.append(name)
            return name
        return load

    assert cache.pool("a", build("pool a")) == "pool a"
    assert cache.pool("a", build("again")) == "pool a"
    assert cache.predictor("a", build("model a")) == "model a"  # its own slot
    assert cache.pool("b", build("pool b")) == "pool b"
    assert cache.pool("a", build("pool a, reloaded")) == "pool a, reloaded"
    assert built == ["pool a", "model a", "pool b", "pool a, reloaded"]
