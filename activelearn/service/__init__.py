"""`activelearn serve`: the HTTP service beside Label Studio. Webhooks start cycles
(controller.py, trigger.py, runner.py), the ML backend protocol serves the latest model's
predictions (predict.py), /metrics, /status and /report/ show the project (app.py).
Starlette and uvicorn are imported only by app.py (the `serve` extra)."""
