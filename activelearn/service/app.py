"""The HTTP side of `activelearn serve` (Starlette, run by uvicorn): the only module that
imports them.

    POST /webhook            Label Studio's webhooks (X-Activelearn-Secret), see controller.py
    GET  /health, POST /setup, POST /predict
                             Label Studio's ML backend protocol, see predict.py
    GET  /metrics            Prometheus text format, see metrics.py
    GET  /status             `activelearn status --json`, plus the service's own part
    GET  /report/            the latest report, written after each cycle
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from activelearn.config.serve import SECRET_HEADER
from activelearn.errors import ActiveLearnError
from activelearn.project import Project
from activelearn.reporting.status import project_status
from activelearn.service.controller import Controller
from activelearn.service.events import BadEvent, parse_event, secret_matches
from activelearn.service.metrics import CONTENT_TYPE, render

TICK = 0.1  # seconds between looks at the trigger and the running cycle


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(project: Project, secret: str, echo: Callable[[str], None] = print,
               warm: bool = True) -> Starlette:
    """The service for one project. secret: what the X-Activelearn-Secret header of a
    webhook must hold; warm: start the cycle forkserver before answering (the first
    cycle then starts as fast as the others)."""
    from activelearn.service.predict import BadRequest, ModelService

    controller = Controller(project, echo)
    models = ModelService(project)  # loads nothing until warm_up() or the first /predict
    report_dir = project.paths.report.resolve()

    async def webhook(request: Request) -> Response:
        if not secret_matches(request.headers.get(SECRET_HEADER), secret):
            controller.counts.refused["secret"] += 1
            return error(401, f"missing or wrong {SECRET_HEADER} header: set it to the "
                              "service's webhook secret ($ACTIVELEARN_WEBHOOK_SECRET)")
        try:
            event = parse_event(json.loads(await request.body()))
        except (ValueError, BadEvent) as exc:
            controller.counts.refused["body"] += 1
            return error(400, f"not a Label Studio webhook event: {exc}")
        counted = controller.on_event(event)
        controller.tick()
        return JSONResponse({"action": event.action, "changes": event.changes,
                             "counted": counted,
                             "pending": controller.trigger.pending.changes})

    def call_model(method: str, *args: Any) -> dict:
        return getattr(models, method)(*args)

    async def model_call(request: Request, method: str) -> Response:
        try:
            args = [] if request.method == "GET" else [json.loads(await request.body())]
        except ValueError as exc:
            return error(400, f"the body is not JSON: {exc}")
        try:
            return JSONResponse(await run_in_threadpool(call_model, method, *args))
        except BadRequest as exc:
            return error(400, str(exc))
        except ActiveLearnError as exc:
            return error(503, str(exc))

    async def health(request: Request) -> Response:
        return await model_call(request, "health")

    async def setup(request: Request) -> Response:
        return await model_call(request, "setup")

    async def predict(request: Request) -> Response:
        return await model_call(request, "predict")

    async def metrics(request: Request) -> Response:
        text = await run_in_threadpool(render, controller.collector)
        return Response(text, media_type=CONTENT_TYPE)

    async def status(request: Request) -> Response:
        try:
            found = await run_in_threadpool(project_status, project)
        except ActiveLearnError as exc:
            return error(503, str(exc))
        return JSONResponse({**found, "serve": controller.describe()})

    async def report(request: Request) -> Response:
        name = request.path_params.get("path") or "index.html"
        path = (report_dir / name).resolve()
        if not path.is_relative_to(report_dir) or not path.is_file():
            missing = not (report_dir / "index.html").exists()
            return error(404, "no report yet: it is written after each cycle (or run "
                              "`activelearn report`)" if missing else f"no {name} in the report")
        return FileResponse(path)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if warm:
            await run_in_threadpool(controller.runner.warm_up)
        ticking = asyncio.create_task(tick_forever(controller))
        # the pool and the latest model, loaded beside the first requests (seconds)
        loading = asyncio.create_task(run_in_threadpool(warm_models, models, echo))
        try:
            yield
        finally:
            ticking.cancel()
            loading.cancel()
            pid = controller.runner.running
            if pid is not None:
                echo(f"cycle pid {pid} is still running; it finishes on its own")

    routes = [
        Route("/webhook", webhook, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/setup", setup, methods=["POST"]),
        Route("/predict", predict, methods=["POST"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/status", status, methods=["GET"]),
        Route("/report/", report, methods=["GET"]),
        Route("/report/{path:path}", report, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.controller = controller
    return app


def warm_models(models: Any, echo: Callable[[str], None]) -> None:
    """Load the pool and the latest model ahead of the first /predict; without a model
    yet (or with a broken one) /predict says why when it is called."""
    try:
        models.warm_up()
    except ActiveLearnError as exc:
        echo(f"predictions: {exc}")


async def tick_forever(controller: Controller) -> None:
    while True:
        try:
            controller.tick(time.monotonic())
        except ActiveLearnError as exc:  # the state unreadable for a moment: say, go on
            controller.echo(f"error: {exc}")
        except OSError as exc:
            controller.echo(f"error: {exc}")
        await asyncio.sleep(TICK)


def serve(project: Project, secret: str, host: str, port: int,
          echo: Callable[[str], None] = print) -> None:
    """Run the service until interrupted (Ctrl-C, SIGTERM)."""
    import uvicorn

    app = create_app(project, secret, echo)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
