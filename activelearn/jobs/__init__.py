"""Training and scoring as jobs: inline by default, on RQ workers when Redis is configured.

functions.py: the job functions, registered by kind; inputs.py: what they load from a
payload; executor.py: where they run; steps.py: the controller's side (payloads,
shards); worker.py: the RQ worker (`activelearn worker`).
"""
