"""The sections of the project file that name services: the Label Studio server and
where jobs run (Redis, the artifact store). Part of schema.py's Config."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class LabelStudioConfig:
    """The Label Studio server the real loop sends tasks to (`label_studio:`). The API
    token is never read from this file: it comes from $LABEL_STUDIO_API_KEY or from the
    file named by $LABEL_STUDIO_API_KEY_FILE.

    Attributes:
        url {an http:// or https:// URL with a host}: the server, e.g.
            http://127.0.0.1:8080; a password in it is shown as *** in errors
        project_title: the Label Studio project's title (empty: project.name)
        instructions: the annotation rules shown to annotators before they label
        image_mode: how a task refers to its image: data-uri (the PNG inside the task; for
            small images), local-files (a /data/local-files URL; the server must serve
            document_root), url-template (url_template filled with {item_id} and {path}),
            url (for a pool of remote images: an http(s):// URI as it is, an s3:// URI
            as a presigned https URL lasting presign_expiry; local files need local-files)
            or s3-storage (for a pool of s3:// images: the task holds the s3:// URI as it
            is, and an S3 storage connected to the Label Studio project, one per bucket,
            signs it anew each time a task is shown: no image expires while its task
            waits; see the storage_* keys)
        document_root {an absolute path, needed by image_mode local-files}: the server's
            LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT
        url_template {starts with http://, https:// or /; placeholders item_id and path
            only; needed by image_mode url-template}: e.g.
            "https://bucket.example.com/images/{path}" (plain placeholders, no !conversion
            or :format; {{ and }} for literal braces)
        presign_expiry [60, 604800]: for url, how long the presigned URL of an s3:// image
            lasts, in seconds from the push (at most 7 days, S3's limit): afterwards the
            task shows no image. The image is signed with the AWS settings of the process
            that pushes
        storage_region {empty, or an AWS region name such as eu-west-1}: for s3-storage,
            the buckets' region, which Label Studio signs for; empty: $AWS_DEFAULT_REGION,
            else $AWS_REGION, else us-east-1
        storage_endpoint {empty, or an http:// or https:// URL with a host}: for
            s3-storage, where Label Studio reaches the S3 API (MinIO, Ceph, moto; no
            credentials in it); empty: $AWS_ENDPOINT_URL_S3, else $AWS_ENDPOINT_URL, else
            AWS itself. Label Studio refuses an endpoint on a loopback or private address
            unless it runs with USE_DEFAULT_BANNED_SUBNETS=false
        storage_presign_ttl [1, 10080]: for s3-storage, minutes each URL Label Studio signs
            when it shows a task lasts (a new one at every view; at most 7 days)
        storage_credentials: for s3-storage, the keys the storage reads the bucket with:
            environment (those of the process that pushes: $AWS_ACCESS_KEY_ID,
            $AWS_SECRET_ACCESS_KEY and $AWS_SESSION_TOKEN, or the files named by the same
            names with _FILE; handed to Label Studio again at each cycle that pushes,
            never written to the project file or shown) or label-studio (none sent: Label
            Studio uses its own AWS settings, e.g. its host's IAM role)
        import_chunk [1, 10000]: tasks per import request
        parallel_requests [1, 64]: task-list requests in flight at once while pulling; more
            than 1 helps only a server with several worker processes (one per request at
            most)
        holdout [0, inf): random items pushed (and never trained on) before the first query
            batch
        overlap [1, 100]: annotations wanted per task: Label Studio serves a task to this
            many distinct annotators (the project's maximum_annotations) and activelearn
            takes the majority label
        overlap_fraction [0, 1]: the share of each pushed initial or query batch that gets
            `overlap` annotators (its most uncertain items first); the rest get one
        holdout_overlap [1, 100]: annotations wanted per holdout task
        show_predictions: pre-fill each query task with the model's suggested class (a
            Label Studio prediction, which also lets its uncertainty sampling order the
            queue). false: no prediction, so annotators do not anchor on the model's guess;
            the strategy's score stays in the task data field `score`, which the Data
            Manager can sort on (review tasks keep their pre-filled current label)
    """

    url: str = field(default_factory=lambda: os.environ.get("ACTIVELEARN_LS_URL", ""))
    project_title: str = ""
    instructions: str = ""
    image_mode: Literal["data-uri", "local-files", "url-template", "url",
                        "s3-storage"] = "data-uri"
    document_root: str = ""
    url_template: str = ""
    presign_expiry: int = 7 * 24 * 3600
    storage_region: str = ""
    storage_endpoint: str = ""
    storage_presign_ttl: int = 15
    storage_credentials: Literal["environment", "label-studio"] = "environment"
    import_chunk: int = 1000
    parallel_requests: int = 1
    holdout: int = 200
    overlap: int = 1
    overlap_fraction: float = 1.0
    holdout_overlap: int = 1
    show_predictions: bool = True

    @property
    def max_overlap(self) -> int:
        """The most annotations any task wants: the project's maximum_annotations."""
        return max(self.overlap, self.holdout_overlap)



@dataclass(frozen=True)
class JobsConfig:
    """Where training and scoring run (`jobs:`).

    Attributes:
        redis_url {a redis://, rediss:// (TLS) or unix:// (a socket path) URL; a port 1 to
            65535; a whole-number database}: RQ on this Redis, e.g.
            redis://127.0.0.1:6379/0; empty = run every job inline in the calling process.
            The database is the path (/0) or db=; a password in it is shown as *** in
            errors
        gpu_queue {a non-empty name}: the queue of training and scoring jobs (workers with
            a GPU, or CPU ones)
        cpu_queue {a non-empty name}: the queue of light jobs (selecting the batch from the
            merged scores)
        shard_size [1, 10**7]: pool items per scoring, cache or embed job
        train_timeout, score_timeout, select_timeout [1, 604800]: seconds a job may run
            before RQ stops it (at most 7 days); score_timeout also bounds cache and embed
            jobs
        pretrain_timeout [1, 604800]: seconds a pretrain job (self-supervised pretraining
            on the pool, model.weights: pool) may run before RQ stops it; a retried job
            goes on after its last finished epoch
        retries [0, 100]: how often a failed or abandoned (worker killed) scoring job is run
            again
        wait_for_worker [1, 604800]: seconds a job may wait in its queue for a worker
            before the round fails (and resumes on the next run)
        heartbeat [1, 3600] {below jobs.wait_for_worker}: seconds between a worker's
            heartbeats while it runs a job; a killed worker's job counts as abandoned about
            3 heartbeats after its last one
        artifacts {a folder, or a file://, s3://, gs://, gcs://, az://, abfs:// or memory://
            URL}: where jobs publish checkpoints, metrics, score shards and the snapshots
            they work from (empty: the project's work dir): a local folder, which workers
            must then see at the same path (a shared disk), or an fsspec URL such as
            s3://bucket/prefix (pip install 'activelearn[s3]'; AWS settings as for s3://
            images), which is all a worker on another machine shares with the controller
            besides Redis
        store_timeout [1, 3600]: seconds one call to a remote artifact store may take end
            to end, whatever botocore and s3fs retry inside it (an upload or a download
            also gets a second per MB): a store that accepts and never answers fails the
            cycle after about this long ("no answer within ..."), and its lock is released;
            workers use the project's value, from the job's payload
        keep_models [1, 1000]: model versions kept in the artifact store besides those
            still needed (the model serve and review use, every model of a round that can
            still resume): after each finished round older checkpoints, their score shards
            and snapshots nothing refers to any more are removed, so the store stays flat
    """

    redis_url: str = field(default_factory=lambda: os.environ.get("ACTIVELEARN_REDIS_URL", ""))
    gpu_queue: str = "activelearn-gpu"
    cpu_queue: str = "activelearn-cpu"
    shard_size: int = 10000
    train_timeout: int = 7200
    score_timeout: int = 1800
    select_timeout: int = 600
    pretrain_timeout: int = 14400
    retries: int = 2
    wait_for_worker: int = 600
    heartbeat: int = 5
    artifacts: str = field(default_factory=lambda: os.environ.get("ACTIVELEARN_ARTIFACTS", ""))
    store_timeout: float = 60.0
    keep_models: int = 3

    @property
    def remote_artifacts(self) -> bool:
        """True when artifacts names a remote store (a URL other than file://)."""
        return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", self.artifacts)) \
            and not self.artifacts.lower().startswith("file://")
