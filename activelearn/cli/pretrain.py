"""`activelearn pretrain`: self-supervised pretraining on the project's pool, the weights
model.weights: pool stands for."""

from __future__ import annotations

import click

from activelearn.cli.base import config_option, handle_errors, load, main
from activelearn.errors import ActiveLearnError


@main.command()
@config_option
@click.option("--restart", is_flag=True,
              help="Start over: drop the epoch checkpoint of an interrupted pretraining "
                   "(and a finished result of the same pool and recipe) instead of going "
                   "on from it. Also the fix for an unreadable epoch checkpoint.")
@click.option("--epochs", type=click.IntRange(1, 10000), default=None,
              help="Passes over the pool [default: pretrain.epochs]. Another number of "
                   "epochs is another pretraining (its own result).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@handle_errors
def pretrain(config, restart, epochs, no_progress) -> None:
    """Pretrain model.name on the pool's unlabelled images (self-supervised: SimCLR or
    VICReg, the `pretrain:` section), for model.weights: pool.

    \b
    Only the train split's items take part: never the holdout (drawn by the first
    `activelearn cycle`, so run that once first), validation or test items. The job
    runs inline, or on a worker of jobs.gpu_queue when jobs.redis_url is set
    (jobs.pretrain_timeout). After every epoch its state is saved to the artifact store:
    an interrupted run (a killed worker, Ctrl-C) goes on after its last finished epoch
    when run again. The result, a whole checkpoint, is published as
    pretrained/<key>.pt with its provenance in pretrained/<key>.json; the same pool and
    recipe reuse it. With model.weights: pool in the project file, `cycle` uses it (and
    makes it itself when missing).
    """
    from activelearn.config import with_overrides
    from activelearn.project import PRETRAINED_KEY, Project

    cfg = with_overrides(load(config), "pretrain", epochs=epochs)
    project = Project(cfg)
    with project.store() as store:
        if not store.items.count() or (cfg.label_studio.holdout > 0
                                       and not store.batches.all()):
            raise ActiveLearnError(
                "pretrain: the project's holdout is not drawn yet (its items must stay "
                "out of pretraining): run `activelearn cycle` first; with model.weights: "
                "pool in the project file the first cycle pretrains by itself")
        pool = project.open_pool(store, progress=not no_progress)
        made = project.pretrain(store, pool, store.items.splits(), not no_progress,
                                restart=restart)
        store.meta.set(PRETRAINED_KEY, made.name)
    info = made.info
    what = "pretrained" if made.trained else "reused the pretraining of this pool and recipe:"
    resumed = f", went on after epoch {info['resumed_from']}" \
        if made.trained and info.get("resumed_from") else ""
    click.echo(f"{what} {info['method']} on {info['items']} train items, {info['epochs']} "
               f"epochs in {info['seconds']:.1f} s ({info['images_per_second']:.0f} "
               f"images/s{resumed})")
    where = project.artifacts.url.rstrip("/")
    click.echo(f"result: {where}/{made.name} (sha256 {info.get('sha256', '?')})")
    click.echo("use it: model.weights: pool (in the project file's model: section)")
