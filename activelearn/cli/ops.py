"""Operating commands: the RQ worker, status, report, clean, export and serve."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from activelearn.cli.base import (
    config_option,
    handle_errors,
    load_needing,
    load_project,
    main,
)
from activelearn.cli.interrupt import EXIT_CODE
from activelearn.config.service_checks import artifacts_problems
from activelearn.errors import ConfigError, printable


@main.command()
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="Project YAML file: the Redis URL and queue names [default: "
                   "configs/fashion_mnist.yaml].")
@click.option("--queue", "queues", multiple=True, metavar="NAME",
              help="Queue to take jobs from; repeat for several. [default: the config's "
                   "jobs.gpu_queue and jobs.cpu_queue]")
@click.option("--device", default="auto", show_default=True,
              help="auto | cpu | cuda | cuda:N: where this worker trains and scores.")
@click.option("--threads", type=click.IntRange(min=0), default=0,
              help="torch CPU threads (0 = torch's default).")
@click.option("--burst", is_flag=True, help="Exit once the queues are empty.")
@click.option("--name", default=None, help="Worker name [default: RQ's, host.pid].")
@click.option("--work-dir", "work_dirs", multiple=True, metavar="DIR",
              help="Run jobs of projects on a disk shared with the controller only when "
                   "their work dir and local artifact store lie under DIR; repeat for "
                   "several. [default: the --config project's work dir]")
@click.option("--artifacts", "stores", multiple=True, metavar="URL",
              help="Run jobs of projects whose artifact store is URL (e.g. "
                   "s3://bucket/prefix): nothing of the controller's disk is needed; "
                   "repeat for several. [default: the --config project's jobs.artifacts "
                   "when it is remote]")
@click.option("--scratch", type=click.Path(file_okay=False), default=None,
              help="This worker's own folder: artifacts it fetched, caches of remote "
                   "projects. [default: a new temporary folder]")
@click.option("--cache-size", "cache_size", default=None, metavar="SIZE",
              help="Bound of the decoded cache of images the jobs of remote stores keep "
                   "(e.g. 2GB, 500MB; 0: none); least recently used images go first. "
                   "[default: a quarter of the free space there, at most 4GB]")
@click.option("--cache-dir", "cache_dir", type=click.Path(file_okay=False), default=None,
              help="The decoded cache's folder; workers of one machine may share it. "
                   "[default: SCRATCH/decoded]")
@handle_errors
def worker(config, queues, device, threads, burst, name, work_dirs, stores, scratch,
           cache_size, cache_dir) -> None:
    """Run an RQ worker for training, scoring and selection jobs.

    Jobs run inside the worker process (no fork per job): CUDA is safe to use and the
    pool and the latest model stay loaded between jobs. Start one per GPU (see
    workers/gpu_worker.sh, which pins the GPU through CUDA_VISIBLE_DEVICES) or a few
    with one thread each on CPU. A job carries its project's config and reads its
    inputs from the project's artifact store (jobs.artifacts): on another machine,
    serve an s3:// store with --artifacts (the images must be reachable, e.g. on S3 or
    HTTP); on the controller's machine or a shared disk, the work dir is the store.
    A worker of a remote store keeps the images it decoded (by their files' sha256) in
    its decoded cache, so a later round or project reads only new images from the store.

    \b
    The Redis URL is jobs.redis_url or $ACTIVELEARN_REDIS_URL: redis://:PASSWORD@host:6379/0,
    rediss://... for TLS (add ?ssl_ca_certs=/path/ca.pem for a private CA), or the
    password in the file named by $ACTIVELEARN_REDIS_PASSWORD_FILE. The worker runs only
    activelearn's own jobs, of the projects under --work-dir or --artifacts, and a job
    writes only into its project's artifact store (and work dir, on a shared disk) and
    this worker's scratch folder.
    """
    from activelearn.data.decoded import parse_size
    from activelearn.jobs.executor import RQExecutor
    from activelearn.jobs.kinds import queue_names
    from activelearn.jobs.worker import run_worker

    limit = parse_size(cache_size) if cache_size is not None else None  # exit 2 if bad
    cfg = load_needing(config, "jobs.redis_url")
    for url in stores:  # checked as jobs.artifacts is at load (exit 2)
        problem = next(artifacts_problems("--artifacts", url), None)
        if problem is not None:
            raise ConfigError(problem)
    RQExecutor(cfg.jobs)  # one clear line when Redis does not answer
    names = list(queues) or queue_names(cfg.jobs)
    served = list(work_dirs) or [str(cfg.work_dir)]
    remote = list(stores) or ([cfg.jobs.artifacts] if cfg.jobs.remote_artifacts else [])
    try:
        run_worker(cfg.jobs.redis_url, names, device, threads, burst, cfg.jobs.heartbeat,
                   served, name, announce=lambda line: click.echo(line, err=True),
                   artifacts=tuple(remote), scratch=scratch, cache_size=limit,
                   cache_dir=cache_dir)
    except KeyboardInterrupt:
        sys.exit(EXIT_CODE)


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, for scripts.")
@click.option("--queues", "only_queues", is_flag=True, help="Only the RQ queues and workers.")
@handle_errors
def status(config, as_json, only_queues) -> None:
    """Where the project stands: current round and phase, model version, holdout accuracy
    with its 95% Wilson interval, the learning-curve forecast and the stopping suggestion
    (loop.stop_when), labels (train / holdout), tasks waiting in Label Studio, annotations
    pulled since the last training, the last error, and the RQ queues (queued, running
    and failed jobs, workers) when jobs.redis_url is set. Reads the state only: it
    answers while Label Studio is down.
    Exits 1 when the configured Redis does not answer.
    """
    import json

    from activelearn.reporting.status import project_status

    project = load_project(config)
    cfg = project.cfg
    if only_queues and not cfg.jobs.redis_url:
        raise ConfigError(f"{cfg.path}: jobs.redis_url: not set, so jobs run inline and "
                          "there are no queues; set it or ACTIVELEARN_REDIS_URL")
    found = project_status(project)
    if as_json:
        click.echo(json.dumps(found, indent=2))
    else:
        for line in _state_report(found, only_queues):
            click.echo(line)
    if found["queues"] and "error" in found["queues"]:
        click.echo(f"error: {found['queues']['error']}", err=True)
        sys.exit(1)


def _state_report(found: dict, only_queues: bool = False) -> list[str]:
    from activelearn.reporting.status import format_queues, format_status

    return format_queues(found["queues"]) if only_queues else format_status(found)


@main.command()
@config_option
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the page, plots and CSV files [default: WORK_DIR/report].")
@click.option("--simulate", "simulate_dir", type=click.Path(exists=True), default=None,
              help="A simulate output folder (or its rounds.json) to compare strategies "
                   "from [default: WORK_DIR/simulate when it holds a rounds.json].")
@handle_errors
def report(config, out, simulate_dir) -> None:
    """Write an HTML report with PNG plots and CSV files: where the project stands and
    whether active learning pays off. Reads the state only; Label Studio is not asked.

    \b
    - accuracy (with its 95% Wilson interval) and macro-F1 on the holdout (and test)
      split against train labels;
    - the forecast of the holdout curve (a power law with a bootstrap band): labels to
      reach loop.target_accuracy, gain per 1,000 labels, the stopping suggestion;
    - simulate runs: every strategy with its spread over seeds, label efficiency
      against random;
    - the latest model's per-class F1 and confusion matrix;
    - annotation throughput: annotations per hour, median lead time per annotator;
    - agreement on items that several annotators labelled.

    A section without data says so. Open OUT/index.html in a browser; the folder can be
    copied elsewhere as a whole.
    """
    from activelearn.reporting.report import project_report

    written = project_report(load_project(config), Path(out) if out else None,
                             Path(simulate_dir) if simulate_dir else None)
    click.echo(f"wrote {written.page} with {len(written.images)} plots and "
               f"{len(written.files)} CSV files")
    if written.empty:
        click.echo(f"no data yet for: {'; '.join(written.empty)}")


@main.command()
@config_option
@handle_errors
def clean(config) -> None:
    """Find exact and near-duplicate images in the pool and between the pool and the
    holdout/validation/test splits (leakage), and record them as groups in the state:
    only a group's representative is ever selected, and pool items that duplicate an
    evaluation image never are. `cycle` runs this itself when new items appear.

    Writes WORK_DIR/clean/duplicates.csv (a row per group member) and skipped.csv (the
    images the source could not use). cleaning.near_threshold sets how alike two images
    must be.
    """
    from activelearn.loop.clean import record_items, run_clean

    project = load_project(config)
    cfg = project.cfg
    with project.store() as store:
        pool = project.open_pool(store, progress=True)
        record_items(store, pool, cfg.splits, cfg.project.seed)
        out_dir = project.paths.clean
        summary = run_clean(pool, store, cfg.cleaning, out_dir)
    for line in summary.lines():
        click.echo(line)
    click.echo(f"wrote {out_dir / 'duplicates.csv'} and {out_dir / 'skipped.csv'}")


@main.command()
@config_option
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@handle_errors
def ingest(config, no_progress) -> None:
    """Catalogue the data source's images in WORK_DIR/state.sqlite: list the files and
    read only the new or changed ones (header, content hashes, a check that they decode);
    with data.cache: memmap, also decode the images not yet in the cache at
    model.input_size. cycle, simulate and clean do this themselves; run it ahead for a
    large new collection, or from cron after files were added.
    """
    project = load_project(config)
    with project.store() as store:
        pool = project.open_pool(store, progress=not no_progress)
    for line in pool.notes:
        click.echo(line)
    tests = int(pool.is_test.sum())
    click.echo(f"pool: {len(pool) - tests} items + {tests} test items, "
               f"{len(pool.skipped)} unusable files skipped")
    for item in pool.skipped[:5]:
        click.echo(f"  skipped {printable(item.item_id)}: {printable(item.reason)}")
    if len(pool.skipped) > 5:
        click.echo(f"  ... and {len(pool.skipped) - 5} more (activelearn clean writes them "
                   "all to skipped.csv)")


@main.command()
@config_option
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "imagefolder"]),
              required=True, help="labels.csv, labels.jsonl, or image folders per split "
                                  "and class (with labels.csv).")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Folder to write to; must be empty or new unless --force.")
@click.option("--force", is_flag=True,
              help="Replace an earlier export in --out: only the files and folders its "
                   "manifest (.activelearn-export.json) lists are removed; any other file "
                   "is kept, and a folder without a manifest is refused.")
@handle_errors
def export(config, fmt, out, force) -> None:
    """Export the labelled items of WORK_DIR/state.sqlite: each item's split (train or
    holdout), label (name and index), annotators, number of annotations, round, source
    and path. classes.txt lists the class names, one per line, in label-index order.

    \b
    csv          OUT/labels.csv
    jsonl        OUT/labels.jsonl (annotators as a list, no path as null)
    imagefolder  OUT/SPLIT/CLASS/ITEM.png (a copy of the item's file when it has one),
                 readable by torchvision.datasets.ImageFolder(OUT/SPLIT); OUT/labels.csv
                 names each item's file. Class folders are the class names with '/' as '_'.
    """
    from activelearn.reporting import export as exporting

    project = load_project(config)
    cfg = project.cfg
    classes = list(cfg.classes)
    items = exporting.read_labelled(project)
    exporting.check_labels(items, classes, cfg.path)
    out_dir = Path(out)
    exporting.prepare_out(out_dir, force)

    def pool():  # the catalogued pool, as the last cycle left it
        with project.store(readonly=True) as store:
            return project.open_pool(store, refresh=False)

    result = exporting.write_export(items, classes, fmt, out_dir, pool)
    click.echo(result.summary())


@main.command()
@config_option
@click.option("--host", default=None, help="Address to bind [default: serve.host, 127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port [default: serve.port, 9090].")
@handle_errors
def serve(config, host, port) -> None:
    """Run the HTTP service beside Label Studio: annotation webhooks start cycles, the
    ML backend protocol serves the latest model's predictions, and the project's
    figures are there for Prometheus and people.

    \b
    POST /webhook   Label Studio's webhooks (annotation created, updated, deleted; tasks
                    deleted), with the header X-Activelearn-Secret: $ACTIVELEARN_WEBHOOK_SECRET.
                    After serve.min_new_labels of them, or serve.max_wait seconds after the
                    first, a cycle starts in a background process (its jobs go to RQ when
                    jobs.redis_url is set); never two at once: a cycle that cron started
                    holds the lock and this one waits for it
    /health /setup /predict
                    the ML backend protocol: connect it with
                    `activelearn init --connect-ml-backend URL`
    GET /metrics    Prometheus text: rounds, labels, queue depth, holdout accuracy, the
                    last cycle's duration and result, webhook events
    GET /status     the `status --json` document and the service's own state
    GET /report/    the latest report, written after each cycle

    The cycles' output goes to WORK_DIR/serve/cycle.log, their starts and ends to
    WORK_DIR/serve/cycles.jsonl. Stop it with Ctrl-C or SIGTERM (a running cycle
    finishes on its own).
    """
    import socket

    try:
        from activelearn.service.app import serve as run_service
    except ImportError as exc:
        raise ConfigError(f"activelearn serve needs the serve extra ({exc.name} is missing): "
                          "pip install 'activelearn[serve]'") from None
    from activelearn.loop.maintenance import check_state
    from activelearn.service.secret import webhook_secret

    project = load_project(config, needing="label_studio.url")
    check_state(project)  # an earlier release's state: one line naming `upgrade`
    cfg = project.cfg
    secret = webhook_secret()
    host = host or cfg.serve.host
    port = port or cfg.serve.port
    try:  # a taken port is one line here, not uvicorn's log
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}; choose another "
                          "with --port or serve.port") from None
    click.echo(f"activelearn serve: http://{host}:{port} for {cfg.path} (webhook POST "
               f"/webhook, ML backend /predict, /metrics, /status, /report/); a cycle after "
               f"{cfg.serve.min_new_labels} label changes or {cfg.serve.max_wait:g} s after "
               "the first")
    run_service(project, secret, host, port, lambda line: click.echo(line))
