"""Training and scoring as jobs: inline by default, on RQ workers when Redis is configured.

tasks.py: the job functions; executor.py: where they run; steps.py: the controller's
side (payloads, shards); worker.py: the RQ worker (`activelearn worker`).
"""
