"""Training and scoring as jobs: inline by default, on RQ workers when Redis is configured.

kinds/: one module per job kind (its JobKind declaration, kind.py: queue, timeout,
retries, description; its worker side, `run`; its controller side: the payloads it
builds, what it publishes, how results merge), registered by name in kinds/__init__.py;
payloads.py: the controller's side every kind shares (the base payload, published
arrays and snapshots); inputs.py: what the worker side loads from a payload;
resident.py: the pool and model a process keeps between jobs; executor.py: where jobs
run (inline or RQ); worker.py: the RQ worker (`activelearn worker`). Nothing here opens
the controller's state: the controller side is handed the store its caller opened.
"""
