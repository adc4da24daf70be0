"""Push and pull throughput against a real Label Studio server.

    .venv/bin/python benchmarks/label_studio_io.py [--n 10000] [--workers N] [--url URL]

Without --url it starts a server of its own (scripts/label_studio.sh; needs .venv-ls;
LS_WORKERS=2 in the environment serves it with 2 processes) and stops it at the end;
with --url the token comes from $LABEL_STUDIO_API_KEY or $LABEL_STUDIO_API_KEY_FILE.
Prints seconds for: pushing N tasks with predictions and 28x28 data-URI images, a
repeated push of the same items (the idempotency check alone), pulling N completed
annotations, and an incremental pull with nothing new.
Targets (issue 3): push 10k <= 20 s, pull 10k <= 20 s, empty pull <= 1 s.

Measured on 2 cores (Label Studio 1.23.2, one server process, load 1-2 from other work):
push 7.1 s (server CPU 6.4 s, two thirds of it the server's task counters), repeated
push 3.6 s, pull 5.5-5.7 s (server CPU 3.8 s), empty pull 0.03 s; with LS_WORKERS=2 the
pull takes 3.0 s. The pull asks the task list for a sparse field set with its annotations
expanded (see SdkConnection.page in label_studio/client.py); the listing it replaced
(`fields=all` with an `omit` list) took 15-16 s (server CPU 13.5 s) for the same pull.

Label Studio's community edition has no bulk-annotation API, so the N annotations are
imported together with their tasks into a second project (not timed).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, cast

import numpy as np

from activelearn.annotation import Suggestion, TaskSpec
from activelearn.annotation.label_studio import api_token, choice_result, image_data_uri
from activelearn.annotation.label_studio.client import LabelStudioBackend
from activelearn.annotation.label_studio.formats import task_json
from activelearn.annotation.label_studio.local_server import running_label_studio

ROOT = Path(__file__).resolve().parent.parent
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def make_tasks(n: int, seed: int = 0) -> list[TaskSpec]:
    """n tasks with a 28x28 grayscale image (a noisy blob, about the size of a real one)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    tasks = []
    for i in range(n):
        cy, cx = rng.integers(8, 20, size=2)
        blob = 255 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 60.0)
        image = np.clip(blob + rng.normal(0, 12, blob.shape), 0, 255).astype(np.uint8)
        confidence = float(rng.uniform(0.1, 1.0))
        tasks.append(TaskSpec(
            item_id=f"train-{i:06d}", image=image_data_uri(image[None]), round=1,
            strategy="margin", score=1 - confidence,
            suggestion=Suggestion(CLASSES[i % 10], confidence, "bench-1")))
    return tasks


SERVER_PID: int | None = None  # set when this script started the server


def server_cpu() -> float:
    """CPU seconds used by the server's processes (its process group; 0 if not ours)."""
    if SERVER_PID is None:
        return 0.0
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[2]) == SERVER_PID:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def timed(label: str, fn, *args, **kwargs):
    """Run fn, print its wall time (and the server's CPU time when known)."""
    cpu, start = server_cpu(), time.perf_counter()
    out = fn(*args, **kwargs)
    wall, cpu = time.perf_counter() - start, server_cpu() - cpu
    server = f" (server CPU {cpu:.2f} s)" if SERVER_PID is not None else ""
    print(f"{label}: {wall:.2f} s{server}", flush=True)
    return out


def run(backend: LabelStudioBackend, n: int, chunk: int) -> None:
    tag = uuid.uuid4().hex[:6]
    tasks = timed(f"build {n} tasks (PNG data URIs, not part of push)", make_tasks, n)
    push_project = backend.projects.ensure(f"bench-push-{tag}", CLASSES)
    timed(f"push {n} tasks (chunks of {chunk})", backend.tasks.push, push_project, tasks, chunk)
    timed(f"push the same {n} again (creates none)", backend.tasks.push, push_project, tasks, chunk)
    timed("set model version", backend.projects.set_model_version, push_project, "bench-1")

    pull_project = backend.projects.ensure(f"bench-pull-{tag}", CLASSES)
    start = time.perf_counter()
    for first in range(0, n, chunk):
        part = []
        for i, task in enumerate(tasks[first:first + chunk], start=first):
            body = task_json(task)
            body["annotations"] = [{"result": choice_result(CLASSES[(i * 7) % 10]),
                                    "lead_time": 1.5}]
            part.append(body)
        backend.client.projects.import_tasks(id=pull_project, request=cast(Any, part))
    print(f"(setup) import {n} annotated tasks: {time.perf_counter() - start:.2f} s")
    pulled = timed(f"pull {n} annotations", backend.annotations.pull, pull_project, CLASSES)
    assert len(pulled.annotations) == n, (len(pulled.annotations), len(pulled.rejected))
    empty = timed("incremental pull, nothing new", backend.annotations.pull, pull_project, CLASSES,
                  pulled.cursor)
    assert not empty.annotations and empty.tasks_seen == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--url", default="")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("LS_WORKERS", "1")),
                        help="list requests in flight (default: $LS_WORKERS or 1)")
    args = parser.parse_args()
    if args.url:
        run(LabelStudioBackend.connect(args.url, api_token(), workers=args.workers), args.n,
            args.chunk)
        return
    with tempfile.TemporaryDirectory(prefix="ls-bench-") as data_dir, \
            running_label_studio(Path(data_dir)) as server:
        global SERVER_PID
        SERVER_PID = server.pid
        run(LabelStudioBackend.connect(server.url, server.token, workers=args.workers),
            args.n, args.chunk)


if __name__ == "__main__":
    main()
