"""Label Studio's ML backend protocol for `activelearn serve`: /health, /setup and
/predict, answered with the project's latest model. app.py calls health and setup (quick,
blocking) from its thread pool and awaits answer() for /predict, which keeps off that pool:
the model's work runs on one thread of its own, the task images are read by fetcher.py's.
BadRequest becomes HTTP 400, any other ActiveLearnError 503 (refusals.py).

What Label Studio 1.23.2 does with the answers:
- /health (GET): any 2xx JSON answer within ML_TIMEOUT_HEALTH (1 s) means up
  (ml/api_connector.py MLApi.health, ml/serializers.py _validate_healthcheck).
- /setup (POST {project: "ID.CREATED", schema: the label config, hostname, access_token,
  extra_params}): called before a backend is saved (a non-2xx answer refuses it) and
  before every prediction request (ml/models.py update_state), within ML_TIMEOUT_SETUP
  (3 s). Its model_version becomes the backend's; tasks already holding a prediction of
  that version are not sent again (predict_tasks). It answers before any model exists
  (model_version null), so a project can be connected before its first round.
- /predict (POST {tasks: [each task's id, data, meta, project, ...], project,
  label_config, params}): {"results": [one entry per task, in order]}. Label Studio zips
  the entries with its tasks: a list of another length is dropped whole (unless it holds
  one entry), and an entry without "result" is skipped with a log line
  (ml/models.py _get_predictions_from_ml_backend). So a task whose image cannot be read
  gets {"error": "..."} in its place: the other tasks keep their predictions, and that
  one is asked for again next time. A 4xx/5xx answer would lose the whole batch.

A task activelearn pushed carries its item id (tasks.task_item_id): its pixels come
from the pool, as the model saw them in training. Any other task is read from its
data.image (fetcher.py) and decoded to the pool's channels and size, until the request's
deadline (serve.predict_deadline, less ANSWER_TIME): one not read by then gets an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from activelearn.annotation.label_studio import choice_result, config_classes, task_item_id
from activelearn.data.imageset import as_tensor
from activelearn.data.sources.base import Pool
from activelearn.errors import ActiveLearnError, StateError
from activelearn.learn.backbones import load_backbone
from activelearn.learn.checkpoints import checkpoint_name, load_checkpoint, resolve_device
from activelearn.learn.fit import build, input_spec
from activelearn.learn.inference import Normalizer, Predictor
from activelearn.learn.networks import InputSpec, SplitModel
from activelearn.project import Project
from activelearn.service.fetcher import Fetcher
from activelearn.service.versions import LatestVersion

log = logging.getLogger("activelearn.serve")

MODEL_CLASS = "activelearn"
NO_MODEL = "no trained model yet: run activelearn cycle until a round trains"
ANSWER_TIME = 0.5  # seconds of a /predict's deadline kept for inference and the answer


class BadRequest(ValueError):
    """A request body that is not what Label Studio sends (the message says why)."""


@dataclass(frozen=True)
class LoadedModel:
    """A model version ready to predict: the trained model, and in head mode the
    backbone whose embeddings its head reads (embed)."""

    version: str
    classify: Predictor
    embed: Predictor | None = None
    precision: str = "float32"

    def probs(self, images: torch.Tensor) -> np.ndarray:
        """images: [n, channels, h, w] uint8 -> probs: [n, classes]."""
        if self.embed is not None:
            low = self.precision != "float32"
            with torch.autocast(self.embed.device.type, dtype=getattr(torch, self.precision)) \
                    if low else contextlib.nullcontext():
                vectors = self.embed(images, embeddings=True).embeddings
            assert vectors is not None
            return self.classify(torch.from_numpy(vectors).float()).probs
        return self.classify(images).probs


class ModelService:
    """The latest trained model of one project, for the ML backend protocol. The model
    and the pool are loaded at the first prediction and kept; the state is looked at
    for a newer model (versions.py), which replaces the loaded one. Thread-safe: one
    prediction runs at a time (on its own thread), reading images from elsewhere happens
    beside it (on the fetcher's). close() when the service stops."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.cfg = project.cfg
        self._lock = threading.Lock()  # the model, the pool, inference
        self.latest_version = LatestVersion(project)
        self._loaded: LoadedModel | None = None
        self._failed: str | None = None  # the newest version, when it failed to load
        self._pool: Pool | None = None
        self._positions: dict[str, int] = {}
        self.fetcher = Fetcher(project)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="activelearn-model")

    # -- the protocol -------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Up, with the newest model version the state names (the one seen last when a
        look takes over HEALTH_WAIT) and the one loaded (None until the first prediction
        loads it)."""
        loaded = self._loaded
        latest, problem = None, ""
        try:
            latest = self.latest_version.within()
        except ActiveLearnError as exc:
            problem = str(exc)
        out: dict[str, Any] = {"status": "UP", "model_class": MODEL_CLASS,
                               "project": self.cfg.project.name, "model_version": latest,
                               "loaded_model_version": loaded.version if loaded else None}
        if problem:
            out["state_error"] = problem
        return out

    def setup(self, body: Any) -> dict[str, Any]:
        """The model version predictions come from now (None: no model yet)."""
        if not isinstance(body, dict):
            raise BadRequest("the /setup body is not a JSON object")
        self._check_interface(body.get("schema"))
        return {"model_version": self.latest_version()}

    async def answer(self, body: Any, deadline: float) -> dict[str, Any]:
        """One entry per task of body["tasks"], in order: the latest model's class as a
        Choices result, its probability as score, and the model version; {"error": ...}
        for a task whose image cannot be read, or not by deadline (a time.monotonic()
        instant; see the module)."""
        tasks = parse_tasks(body)
        loaded = await self._in_thread(deadline, self._prepare, body.get("label_config"))
        positions = {i: self._positions[item] for i, item in enumerate(map(task_item_id, tasks))
                     if item is not None and item in self._positions}
        assert self._pool is not None
        images_by = deadline - min(ANSWER_TIME, self.cfg.serve.predict_deadline / 10)
        read = await self.fetcher.read_all({i: task for i, task in enumerate(tasks)
                                            if i not in positions},
                                           self._pool.images.shape[1:], images_by, deadline)
        return await self._in_thread(deadline, self._results, tasks, loaded, positions, read)

    def predict(self, body: Any, deadline: float | None = None) -> dict[str, Any]:
        """answer(), blocking, for a caller without an event loop (deadline: None,
        serve.predict_deadline from now)."""
        later = time.monotonic() + self.cfg.serve.predict_deadline
        return asyncio.run(self.answer(body, later if deadline is None else deadline))

    def close(self) -> None:  # work under way ends on its own
        self.fetcher.close()
        self.latest_version.close()
        self._thread.shutdown(wait=False, cancel_futures=True)

    async def _in_thread(self, deadline: float, work: Callable[..., Any], *args: Any) -> Any:
        """work(*args) on the model's thread, waited for until deadline at the latest."""
        running = asyncio.get_running_loop().run_in_executor(self._thread, work, *args)
        try:
            return await asyncio.wait_for(running, max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:  # TimeoutError from Python 3.11 on, not on 3.10
            raise ActiveLearnError(f"the model did not answer within serve.predict_deadline "
                                   f"({self.cfg.serve.predict_deadline:g} s): it is loading "
                                   "or busy; Label Studio asks again") from None

    def _prepare(self, label_config: Any) -> LoadedModel:
        """The model to answer with and the pool open (StateError, 503, before any image
        is read); BadRequest for another labelling interface."""
        self._check_interface(label_config)
        loaded = self._model()
        with self._lock:
            self._open_pool()
        return loaded

    def _results(self, tasks: list[dict[str, Any]], loaded: LoadedModel,
                 positions: dict[int, int], read: dict[int, Any]) -> dict[str, Any]:
        """The answer: the pool's and the read images predicted, the reasons of the rest."""
        with self._lock:
            loaded = self._loaded or loaded
            pixels = self._pixels(positions, read)
            probs = loaded.probs(pixels) if len(pixels) else np.zeros((0, 1), np.float32)
        results: list[dict[str, Any]] = []
        row = 0
        for i, task in enumerate(tasks):
            if isinstance(read.get(i), str):
                results.append({"error": f"task {task.get('id', i)}: cannot read its image: "
                                         f"{read[i]}"})
                continue
            best = int(probs[row].argmax())
            results.append({"result": choice_result(self.cfg.classes[best]),
                            "score": round(float(probs[row][best]), 6),
                            "model_version": loaded.version})
            row += 1
        return {"results": results}

    def warm_up(self) -> None:
        """Load the pool and the latest model now, if there is one (else nothing; a model
        that cannot load raises, so the service says why at once)."""
        if self.latest_version() is not None:
            self._model()

    # -- the model ----------------------------------------------------------------------
    def _model(self) -> LoadedModel:
        version = self.latest_version()
        if version is None:
            raise StateError(NO_MODEL)
        with self._lock:
            loaded = self._loaded
            if loaded is not None and version in (loaded.version, self._failed):
                return loaded
            try:
                self._loaded = self._load(version)
            except ActiveLearnError as exc:
                if loaded is None:
                    raise
                self._failed = version  # not tried again until a newer one comes
                log.warning("model %s cannot be loaded (%s); still answering with %s",
                            version, exc, loaded.version)
                return loaded
            log.info("loaded model %s", version)
            return self._loaded

    def _load(self, version: str) -> LoadedModel:
        if self.cfg.model.pool_weights:  # the project's pretrained checkpoint, fetched
            with self.project.store(readonly=True) as store:
                self.project.resolve_weights(store)  # StateError: not pretrained yet
            self.cfg = self.project.cfg
        cfg, pool = self.cfg, self._open_pool()
        try:
            path = self.project.artifacts.fetch(checkpoint_name(version))
        except FileNotFoundError as exc:
            raise StateError(f"{exc.filename}: the checkpoint of model {version} is missing; "
                             "the next cycle trains it again") from None
        device = resolve_device(cfg.training.device)
        if cfg.training.threads > 0 and device.type == "cpu":
            torch.set_num_threads(cfg.training.threads)
        size = cfg.strategy.score_batch_size
        spec = input_spec(pool.images, len(cfg.classes))
        embed = None
        if cfg.model.train == "head":  # the head reads the backbone's embeddings
            backbone = load_backbone(cfg.model, spec.channels, (spec.height, spec.width))
            embed = Predictor(SplitModel(backbone.features, backbone.dim, 1, 0.0),
                              Normalizer(backbone.mean, backbone.std), device, size)
            spec = InputSpec(backbone.dim, 1, 1, spec.classes)
        model = build(cfg.model, spec)
        norm, _ = load_checkpoint(path, model)
        return LoadedModel(version, Predictor(model, norm, device, size), embed,
                           cfg.model.embed_precision)

    def _open_pool(self) -> Pool:
        """The project's pool as the controller left it (never refreshed here: a file
        added since is read from its task's data.image instead)."""
        if self._pool is None:
            with self.project.store(readonly=True) as store:
                pool = self.project.open_pool(store, refresh=False, build_cache=False)
            self._positions = {item: i for i, item in enumerate(pool.item_ids)}
            self._pool = pool
        return self._pool

    def _pixels(self, positions: dict[int, int], read: dict[int, Any]) -> torch.Tensor:
        """[n, channels, h, w] uint8: the readable tasks' images, in task order."""
        assert self._pool is not None
        order = sorted([*positions, *(i for i, v in read.items() if not isinstance(v, str))])
        from_pool = as_tensor(self._pool.images[np.array(
            [positions[i] for i in order if i in positions], dtype=np.int64)])
        rows, taken = [], 0
        for i in order:
            if i in positions:
                rows.append(from_pool[taken])
                taken += 1
            else:
                rows.append(torch.tensor(read[i]))  # decode's arrays are read-only
        if not rows:
            return torch.zeros((0, *self._pool.images.shape[1:]), dtype=torch.uint8)
        return torch.stack(rows)

    def _check_interface(self, config: Any) -> None:
        """BadRequest when Label Studio's labelling interface offers other classes than
        the project file (None: the request names none)."""
        if config is None:
            return
        if not isinstance(config, str):
            raise BadRequest("the label config is not a string")
        found, wanted = config_classes(config), list(self.cfg.classes)
        if found != wanted:
            shown = "no Choices named 'label'" if found is None else f"{len(found)} classes"
            raise BadRequest(f"the project's labelling interface has {shown}, the model "
                             f"predicts {len(wanted)} other ones: connect the service to "
                             "the Label Studio project of its own project file")


def parse_tasks(body: Any) -> list[dict[str, Any]]:
    """The tasks of a /predict body; BadRequest when it is not Label Studio's shape."""
    if not isinstance(body, dict):
        raise BadRequest("the /predict body is not a JSON object")
    tasks = body.get("tasks")
    if not isinstance(tasks, list):
        raise BadRequest("the /predict body has no 'tasks' list")
    for i, task in enumerate(tasks):
        if not isinstance(task, dict):
            raise BadRequest(f"task {i} of the /predict body is not a JSON object")
        if not isinstance(task.get("data"), dict):
            raise BadRequest(f"task {task.get('id', i)} of the /predict body has no 'data' "
                             "object")
    return tasks
