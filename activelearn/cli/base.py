"""The command line's shared parts: the `activelearn` group, the --config option, loading
the project file, and the one place that turns errors into messages and exit codes.

Exit codes: 0 success, 1 runtime failure, 2 usage or config error, 130 interrupted.
"""

from __future__ import annotations

import functools
import logging
import sys
from typing import TYPE_CHECKING, Any

import click

from activelearn.cli import interrupt
from activelearn.cli.interrupt import EXIT_CODE as EXIT_INTERRUPTED
from activelearn.cli.interrupt import interrupted_line
from activelearn.config import DEFAULT_CONFIG, Config, load_config
from activelearn.config.checks import SCORED
from activelearn.errors import ActiveLearnError, ConfigError, OptionError, printable, redact

if TYPE_CHECKING:
    from activelearn.project import Project


def handle_errors(fn):
    """Run a command; an ActiveLearnError becomes one line on stderr and its exit code, a
    file the system refused to read or write (a full disk, a read-only folder) one line
    and exit 1, Ctrl-C exit 130 (interrupt.py: at any moment), and anything else (a bug)
    one line saying so, exit 1. --debug shows the traceback instead."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        try:
            return fn(*args, **kwargs)
        except (ActiveLearnError, OSError) as exc:
            if ctx.obj.get("debug"):
                raise
            click.echo(f"error: {_one_line(exc)}", err=True)
            sys.exit(getattr(exc, "exit_code", 1))
        except KeyboardInterrupt:
            if ctx.obj.get("debug"):
                raise
            click.echo(interrupted_line(), err=True)
            sys.exit(EXIT_INTERRUPTED)
        except click.ClickException:
            raise  # usage errors: the group prints them (ActiveLearnGroup.main)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback
            if ctx.obj.get("debug"):
                raise
            click.echo(f"error: unexpected {type(exc).__name__}: {_one_line(exc)[:300]} (a "
                       "bug in activelearn: run again with --debug for the traceback and "
                       "report it)", err=True)
            sys.exit(1)

    return wrapper


def _one_line(exc: BaseException | str) -> str:
    """An error as one line; an OSError names its file and says what the system said."""
    if isinstance(exc, OSError) and not isinstance(exc, ActiveLearnError):
        where = f"{exc.filename}: " if exc.filename else ""
        what = exc.strerror or str(exc) or type(exc).__name__
        hint = {28: "free space and run again", 30: "the folder is read-only",
                13: "check the permissions"}.get(exc.errno or 0, "")
        # a file name may be a URL with its password (an fsspec path): redacted as well
        return redact(printable(f"{where}{what}" + (f" ({hint})" if hint else "")))
    # redact and printable (errors.py): no credential, and one line, whatever the error
    return redact(printable(" ".join(option_message(exc).split() if isinstance(exc, OptionError)
                                     else str(exc).split())))


def option_message(exc: ActiveLearnError) -> str:
    """The error's message, an OptionError's parameters named by the flags of the command
    that runs (out -> --out, fmt -> --format; a setting a flag overrides keeps its key:
    loop.batch (or --batch))."""
    if not isinstance(exc, OptionError):
        return str(exc)
    ctx = click.get_current_context(silent=True)
    params = ctx.command.params if ctx is not None else []
    flags = {p.name: p.opts[0] for p in params if p.name in exc.names and p.opts}
    return exc.render({name: f"{exc.names[name]} (or {flag})" if "." in exc.names[name]
                       else flag for name, flag in flags.items()})


def load(config: str | None) -> Config:
    """The project file (default configs/fashion_mnist.yaml), validated, with its strategy,
    model and source names checked against the registries: every command fails on a
    typo (exit 2) before it does anything."""
    if config is None:
        if not DEFAULT_CONFIG.exists():
            raise ConfigError("no --config given and the default configs/fashion_mnist.yaml "
                              "is not here; pass --config FILE")
        config = str(DEFAULT_CONFIG)
    return load_config(config, known=registered_names())


def registered_names() -> dict[str, list[str]]:
    """The names a project file may use, by key (see config.checks.check_names)."""
    from activelearn.data.sources import available_sources
    from activelearn.learn.models import available_models
    from activelearn.strategies import available_strategies, get_strategy

    strategies = available_strategies()
    return {"strategy.name": strategies, "model.name": available_models(),
            "data.source": available_sources(),
            SCORED: [n for n in strategies if get_strategy(n).ranks_by_score]}


# the environment variable that can set each URL a command may need
URL_ENV = {"label_studio.url": "ACTIVELEARN_LS_URL", "jobs.redis_url": "ACTIVELEARN_REDIS_URL"}


def load_needing(config: str | None, key: str) -> Config:
    """The project file of a command that needs a URL (key, e.g. "jobs.redis_url") set."""
    cfg = load(config)
    section, name = key.split(".")
    if not getattr(getattr(cfg, section), name):
        raise ConfigError(f"{cfg.path}: {key}: not set; set it in the project file or "
                          f"{URL_ENV[key]}")
    return cfg


def load_project(config: str | None, needing: str | None = None) -> Project:
    """The command's Project, built once from the validated project file (needing: a URL
    key the command cannot do without, see load_needing)."""
    from activelearn.project import Project

    return Project(load_needing(config, needing) if needing else load(config))


class ActiveLearnGroup(click.Group):
    """The command group, with click's own errors (a bad option, a missing argument) as
    one line like every other error, instead of click's usage block."""

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        try:
            with interrupt.running():
                done = super().main(args, prog_name, complete_var, standalone_mode=False,
                                    **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "activelearn"
            click.echo(f"error: {_one_line(exc.format_message())} (see `{where} --help`)",
                       err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"error: {_one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:  # a KeyboardInterrupt outside a command (parsing the options)
            click.echo(interrupted_line(), err=True)
            sys.exit(EXIT_INTERRUPTED)
        if not standalone_mode:
            return done
        code = done if isinstance(done, int) else 0
        interrupt.finished(code)  # a Ctrl-C while Python shuts down: this code, no trace
        sys.exit(code)


@click.group(cls=ActiveLearnGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
@click.version_option(package_name="activelearn")
@click.pass_context
def main(ctx: click.Context, debug: bool, verbose: bool) -> None:
    """activelearn: train a CNN on the labels so far, ask for the most informative images
    next, and measure how much accuracy each label buys."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


# the --config option of most commands
config_option = click.option(
    "--config", "config", type=click.Path(dir_okay=False), default=None,
    help="Project YAML file [default: configs/fashion_mnist.yaml].")
