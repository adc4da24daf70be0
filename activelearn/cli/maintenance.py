"""The project's upkeep commands: upgrade, backup and restore (loop/maintenance.py)."""

from __future__ import annotations

from pathlib import Path

import click

from activelearn.cli.base import config_option, handle_errors, load_project, main


@main.command()
@config_option
@click.option("--backup-dir", type=click.Path(file_okay=False), default=None,
              help="Folder for the backup taken first [default: WORK_DIR/backups].")
@handle_errors
def upgrade(config, backup_dir) -> None:
    """Upgrade WORK_DIR/state.sqlite, made by an earlier release, to this release's schema.

    A copy of the state is backed up first (into WORK_DIR/backups/upgrade-TIME-...-schemaN,
    restorable with `activelearn restore`); then every migration the state lacks runs
    in one transaction: interrupted at any moment, the state stays at its old version
    and running upgrade again finishes. Refused while a cycle runs. Commands that write
    the state (cycle, init, ingest, clean, bot, ...) do the same by themselves, with a
    line saying so; status, report, export and serve ask for this command instead.
    """
    from activelearn.loop.maintenance import upgrade_project
    from activelearn.state import SCHEMA_VERSION

    project = load_project(config)
    done = upgrade_project(project, Path(backup_dir) if backup_dir else None)
    if done is None:
        click.echo(f"{project.state_path} is at schema {SCHEMA_VERSION} already; nothing "
                   "to do")
        return
    click.echo(f"upgraded {project.state_path} from schema {done.found} to "
               f"{SCHEMA_VERSION}; backup of the old state: {done.backup.folder}")
    for step in done.steps:
        click.echo(f"  {step.version}: {step.description}")


@main.command()
@click.argument("out", type=click.Path(dir_okay=True, file_okay=False))
@config_option
@handle_errors
def backup(out, config) -> None:
    """Back the project up into the new folder OUT: a consistent copy of the state (taken
    with SQLite's online backup API: safe while a cycle runs), the models the state
    names (checkpoints and metrics of every round's model, the pretrained weights) and
    manifest.json with their sha256. Restore it with `activelearn restore OUT`.

    \b
    From cron, nightly:
      0 3 * * * cd /srv/project && activelearn backup --config p.yaml runs/backups/$(date +\\%F)
    """
    from activelearn.loop.maintenance import backup_project

    done = backup_project(load_project(config), Path(out))
    made = done.backup
    click.echo(f"backed up the state (schema {made.schema_version}, "
               f"{done.state_bytes / 1e6:.1f} MB) and {len(made.artifacts)} model files "
               f"into {made.folder}")
    if done.missing:
        click.echo(f"not in the artifact store, so not in the backup: "
                   f"{', '.join(done.missing[:5])}"
                   + (f" and {len(done.missing) - 5} more" if len(done.missing) > 5 else ""))


@main.command()
@click.argument("folder", type=click.Path(file_okay=False))
@config_option
@click.option("--force", is_flag=True,
              help="Replace the project's current state (it is kept in "
                   "WORK_DIR/backups/replaced-TIME-PID).")
@handle_errors
def restore(folder, config, force) -> None:
    """Restore the backup in FOLDER (made by `activelearn backup`, or the one an upgrade
    took) into the project's work dir.

    Every file is checked against the manifest's sha256 and the state copy with PRAGMA
    integrity_check before anything changes; refused while a cycle runs (stop serve and
    the cron job first) and, without --force, when a state is there. The models are put
    back into the artifact store first (those missing there), then the state in one
    rename. The next `activelearn cycle` resumes from the restored state.
    """
    from activelearn.loop.maintenance import restore_project

    project = load_project(config)
    done = restore_project(project, Path(folder), force)
    made = done.backup
    click.echo(f"restored {project.state_path} from {made.folder} (taken "
               f"{made.created_at}, schema "
               f"{made.schema_version}); {done.models} model files put back")
    if done.replaced is not None:
        click.echo(f"the state it replaced is kept in {done.replaced}")
