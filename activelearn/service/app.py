"""The HTTP side of `activelearn serve` (Starlette, run by uvicorn): the only module that
imports them.

    POST /webhook            Label Studio's webhooks (X-Activelearn-Secret), see controller.py
    GET  /health, POST /setup, POST /predict
                             Label Studio's ML backend protocol, see predict.py
    GET  /metrics            Prometheus text format, see metrics.py
    GET  /status             `activelearn status --json`, plus the service's own part
    GET  /report/            the latest report, written after each cycle

Every request is bounded (limits.py): a body over serve.max_body (serve.max_setup_body
for /setup) is refused with 413 while it streams in, JSON over 64 levels deep or not an
object with 400, a /predict answers by serve.predict_deadline (predict.py, fetcher.py).
Every error becomes a short JSON answer through one exception handler table
(refusals.py): 4xx, or 503 while the state or a model cannot be read; never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from activelearn.config.serve import SECRET_HEADER
from activelearn.errors import ActiveLearnError, printable, redact
from activelearn.project import Project
from activelearn.reporting.status import project_status
from activelearn.service.controller import Controller
from activelearn.service.events import BadEvent, parse_event, secret_matches
from activelearn.service.limits import (
    BadBody,
    BodyTooLarge,
    json_object,
    read_body,
    report_name,
)
from activelearn.service.metrics import CONTENT_TYPE, render
from activelearn.service.refusals import one_line, refusal

TICK = 0.1  # seconds between looks at the trigger and the running cycle


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(project: Project, secret: str, echo: Callable[[str], None] = print,
               warm: bool = True) -> Starlette:
    """The service for one project. secret: what the X-Activelearn-Secret header of a
    webhook must hold; warm: start the cycle forkserver before answering (the first
    cycle then starts as fast as the others)."""
    from activelearn.service.predict import ModelService

    limits = project.cfg.serve
    controller = Controller(project, echo)
    models = ModelService(project)  # loads nothing until warm_up() or the first /predict
    report_dir = project.paths.report.resolve()

    async def json_body(request: Request, what: str, setting: str) -> dict[str, Any]:
        """The request's JSON object, read within serve.<setting> bytes (limits.py)."""
        data = await read_body(request.headers.get("content-length"), request.stream(),
                               getattr(limits, setting), setting)
        if len(data) < 65536:
            return json_object(data, what)
        return await run_in_threadpool(json_object, data, what)  # not on the event loop

    async def webhook(request: Request) -> Response:
        if not secret_matches(request.headers.get(SECRET_HEADER), secret):
            controller.counts.refused["secret"] += 1
            return error(401, f"missing or wrong {SECRET_HEADER} header: set it to the "
                              "service's webhook secret ($ACTIVELEARN_WEBHOOK_SECRET)")
        try:
            event = parse_event(await json_body(request, "the body", "max_body"))
        except BodyTooLarge:
            controller.counts.refused["size"] += 1
            raise
        except (BadBody, BadEvent) as exc:
            controller.counts.refused["body"] += 1
            raise BadBody(f"not a Label Studio webhook event: {exc}") from None
        counted = controller.on_event(event)  # StateError: 503, the event not counted
        with contextlib.suppress(ActiveLearnError):  # the tick's own loop says why
            controller.tick()
        return JSONResponse({"action": event.action, "changes": event.changes,
                             "counted": counted,
                             "pending": controller.trigger.pending.changes})

    async def health(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(models.health))

    async def setup(request: Request) -> Response:
        body = await json_body(request, "the /setup body", "max_setup_body")
        return JSONResponse(await run_in_threadpool(models.setup, body))

    async def predict(request: Request) -> Response:
        deadline = time.monotonic() + limits.predict_deadline
        body = await json_body(request, "the /predict body", "max_body")
        return JSONResponse(await models.answer(body, deadline))  # off the shared pool

    async def metrics(request: Request) -> Response:
        text = await run_in_threadpool(render, controller.collector)
        return Response(text, media_type=CONTENT_TYPE)

    async def status(request: Request) -> Response:
        found = await run_in_threadpool(project_status, project)
        return JSONResponse({**found, "serve": controller.describe()})

    async def report(request: Request) -> Response:
        name = report_name(request.path_params.get("path", ""))
        try:
            path = (report_dir / name).resolve()
            found = path.is_relative_to(report_dir) and path.is_file()
        except OSError:  # a name the file system refuses (too long a part)
            found = False
        if not found:
            missing = not (report_dir / "index.html").exists()
            return error(404, "no report yet: it is written after each cycle (or run "
                              "`activelearn report`)" if missing else
                              f"no {one_line(name, 100)} in the report")
        return FileResponse(path)

    async def refused(request: Request, exc: Exception) -> Response:
        route = getattr(request.scope.get("route"), "path", "(no route)")
        answer = refusal(exc, f"{request.method} {route}")
        controller.counts.errors[(route, answer.status)] += 1
        if answer.log is not None:
            echo(f"error: {answer.log}")
        response = error(answer.status, answer.message)
        if answer.status == 413:  # the server closes the connection, not read on to its end
            response.headers["Connection"] = "close"
        return response

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)  # an unknown route, a wrong method
        route = getattr(request.scope.get("route"), "path", "(no route)")
        controller.counts.errors[(route, exc.status_code)] += 1
        answer = error(exc.status_code, one_line(str(exc.detail), 100))
        answer.headers.update(exc.headers or {})
        return answer

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
            models.close()
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
    async def gone(request: Request, exc: Exception) -> Response:
        return error(400, "the client went away before its body was read")  # nobody reads it

    handlers: dict[Any, Any] = {HTTPException: http_error, ActiveLearnError: refused,
                                ValueError: refused, RecursionError: refused,
                                ClientDisconnect: gone}
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers,
                    middleware=[Middleware(LastResort, handler=refused)])
    app.state.controller = controller
    return app


class LastResort:
    """Any other exception of a route (a bug), answered by `handler` as the handler table's
    kinds are: with the key Exception in that table Starlette would answer, then raise it
    again for the server to log its traceback."""

    def __init__(self, app: ASGIApp, handler: Callable[[Request, Exception],
                                                         Awaitable[Response]]) -> None:
        self.app, self.handler = app, handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            answer = await self.handler(Request(scope), exc)  # logs its one line
            if not started:  # else the answer is cut short; the server closes it
                await answer(scope, receive, send)


def warm_models(models: Any, echo: Callable[[str], None]) -> None:
    """Load the pool and the latest model ahead of the first /predict; without a model
    yet (or with a broken one) /predict says why when it is called."""
    try:
        models.warm_up()
    except ActiveLearnError as exc:
        echo(f"predictions: {exc}")


async def tick_forever(controller: Controller) -> None:
    """Look at the trigger and the running cycle every TICK seconds, whatever a look
    raised (a task that ended would start no cycle again): a failure is said once, not
    once per tick, until the looks succeed again."""
    said = ""
    while True:
        try:
            controller.tick(time.monotonic())
            said = ""
        except (ActiveLearnError, OSError) as exc:  # e.g. the state unreadable for a moment
            said = _say_once(controller, f"error: {exc}", said)
        except Exception as exc:  # noqa: BLE001  (a bug: say it in one line and go on)
            said = _say_once(controller, f"error: serve's tick failed ({type(exc).__name__}):"
                             " a bug in activelearn; please report it", said)
        await asyncio.sleep(TICK)


def _say_once(controller: Controller, line: str, said: str) -> str:
    if line != said:
        controller.echo(printable(redact(line)))
    return line


def serve(project: Project, secret: str, host: str, port: int,
          echo: Callable[[str], None] = print) -> None:
    """Run the service until interrupted (Ctrl-C, SIGTERM)."""
    import uvicorn

    app = create_app(project, secret, echo)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
