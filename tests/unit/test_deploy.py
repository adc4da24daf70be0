"""docker/ and deploy/systemd/, checked statically: Docker and systemd cannot run on the
machines the tests run on (see docker/README.md, "What was not run here").

Every `activelearn ...` command they contain must parse with the real CLI, and every
environment variable given to activelearn must be one the package reads.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import warnings
from pathlib import Path, PurePosixPath

import click
import pytest
import yaml

import activelearn
from activelearn.cli import main
from activelearn.config import load_config
from support import ROOT

DOCKER = ROOT / "docker"
SYSTEMD = ROOT / "deploy" / "systemd"
CONFIG_IN_CONTAINER = "/srv/activelearn/project.yaml"
# What Label Studio reads (label_studio/server.py and core/settings: get_env("X") reads
# LABEL_STUDIO_X, then X) and DESIGN.md's list for a headless server.
LABEL_STUDIO_ENV = {"LABEL_STUDIO_USERNAME", "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN",
                    "SENTRY_DSN", "FRONTEND_SENTRY_DSN", "LATEST_VERSION_CHECK",
                    "COLLECT_ANALYTICS", "USE_DEFAULT_BANNED_SUBNETS",
                    "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED",
                    "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"}
SHELL_OPERATORS = set("();<>|&")


# -- helpers ----------------------------------------------------------------------------
def env_names_read_by_activelearn() -> set[str]:
    """The names the package reads with os.environ.get / os.environ[...] / os.getenv,
    as string literals or module-level string constants (TOKEN_ENV = "...")."""
    package = Path(activelearn.__file__).parent
    trees = [ast.parse(p.read_text()) for p in sorted(package.rglob("*.py"))]
    constants = {t.id: n.value.value for tree in trees for n in tree.body
                 if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
                 and isinstance(n.value.value, str) for t in n.targets
                 if isinstance(t, ast.Name)}
    names = set()
    for tree in trees:
        for node in ast.walk(tree):
            key = _env_key(node)
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                names.add(key.value)
            elif isinstance(key, ast.Name) and key.id in constants:
                names.add(constants[key.id])
    return names


def _env_key(node: ast.AST) -> ast.expr | None:
    """The key expression of an environment read, or None."""
    if isinstance(node, ast.Call) and node.args:
        name = ast.unparse(node.func)
        if name in ("os.environ.get", "os.getenv"):
            return node.args[0]
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) \
            and ast.unparse(node.value) == "os.environ":
        return node.slice
    return None


def check_cli(args: list[str]) -> click.Context | None:
    """Parse `activelearn ARGS` with the real click objects (nothing runs); raises
    click's UsageError on an unknown command or option. Returns the command's context."""
    if args in (["--help"], ["-h"]):
        assert args[0] in main.context_settings["help_option_names"]
        return None
    ctx = main.make_context("activelearn", list(args))
    with warnings.catch_warnings():  # click 8.2+ moves these tokens into ctx.args
        warnings.simplefilter("ignore", DeprecationWarning)
        rest = [*getattr(ctx, "protected_args", []), *ctx.args]
    name, command, rest = main.resolve_command(ctx, rest)
    assert command is not None, f"no command {name!r}"
    return command.make_context(name or "", rest, parent=ctx)


def activelearn_calls(script: str) -> list[list[str]]:
    """The argument lists of every `activelearn` (or .../bin/activelearn) command in a
    shell script: a word in command position (first on a line, after an operator such
    as ; && | or after VAR=value assignments), with its words up to the next operator."""
    calls: list[list[str]] = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = ""
        current: list[str] | None = None
        at_command = True
        for token in lexer:
            if set(token) <= SHELL_OPERATORS:
                current, at_command = None, True
            elif current is not None:
                current.append(token)
            elif at_command and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", token):
                continue  # an assignment: the command follows
            elif at_command and token in ("exec", "do", "then", "else"):
                continue
            else:
                if at_command and PurePosixPath(token).name == "activelearn":
                    current = []
                    calls.append(current)
                at_command = False
    return calls


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


# -- compose ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def activelearn_commands(service: dict) -> list[list[str]]:
    """The activelearn calls a service of the activelearn image makes."""
    entrypoint, command = service.get("entrypoint"), service.get("command")
    if entrypoint is None:  # the image's: ENTRYPOINT ["activelearn"]
        assert isinstance(command, list), "give the command as a list"
        return [command]
    assert entrypoint[:2] == ["/bin/sh", "-c"]
    script = command[0] if isinstance(command, list) else command
    return activelearn_calls(script)


def test_compose_has_the_four_services_and_shared_volumes(compose, services) -> None:
    assert set(services) == {"redis", "label-studio", "controller", "worker"}
    assert services["redis"]["image"].startswith("redis:")
    assert services["label-studio"]["image"].startswith("heartexlabs/label-studio:")
    assert set(compose["volumes"]) >= {"work", "data", "redis", "label-studio"}
    assert "label-studio:/label-studio/data" in services["label-studio"]["volumes"]
    mounts = [set(services[name]["volumes"]) for name in ("controller", "worker")]
    assert mounts[0] == mounts[1]  # jobs pass paths: both must see the same files
    assert {"work:/srv/activelearn/work", "data:/srv/activelearn/data",
            f"./project.yaml:{CONFIG_IN_CONTAINER}:ro"} <= mounts[0]
    for name in ("controller", "worker"):
        assert services[name]["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["controller"]["depends_on"]["label-studio"]["condition"] == \
        "service_healthy"


def test_the_worker_reserves_an_nvidia_gpu_and_uses_it(services) -> None:
    worker = services["worker"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    (args,) = activelearn_commands(worker)
    assert args[0] == "worker" and check_cli(args).params["device"] == "cuda:0"


def test_every_activelearn_command_is_a_real_one(services) -> None:
    seen = {}
    for name in ("controller", "worker"):
        for args in activelearn_commands(services[name]):
            ctx = check_cli(args)
            assert ctx is not None and ctx.params["config"] == CONFIG_IN_CONTAINER
            seen[args[0]] = ctx
    assert set(seen) == {"cycle", "worker"}
    assert seen["cycle"].params["no_progress"]  # a log, not progress bars
    assert "sleep" in services["controller"]["command"][0]  # it runs on a schedule
    with pytest.raises(click.UsageError):  # the check itself catches a typo
        check_cli(["cycle", "--config", "p.yaml", "--no-progres"])
    with pytest.raises(click.UsageError):
        check_cli(["cycles"])


def test_activelearn_gets_only_variables_it_reads_and_the_token_as_a_file(
        compose, services) -> None:
    known = env_names_read_by_activelearn()
    assert {"ACTIVELEARN_LS_URL", "ACTIVELEARN_REDIS_URL", "LABEL_STUDIO_API_KEY_FILE"} <= known
    controller, worker = env_of(services["controller"]), env_of(services["worker"])
    assert set(controller) <= known and set(worker) <= known
    assert controller["ACTIVELEARN_LS_URL"] == "http://label-studio:8080"
    assert controller["ACTIVELEARN_REDIS_URL"] == worker["ACTIVELEARN_REDIS_URL"] == \
        "redis://redis:6379/0"
    assert controller["LABEL_STUDIO_API_KEY_FILE"] == "/run/secrets/label_studio_token"
    assert "label_studio_token" in services["controller"]["secrets"]
    for service in ("controller", "worker"):  # Redis's password, from a secret file
        assert env_of(services[service])["ACTIVELEARN_REDIS_PASSWORD_FILE"] == \
            "/run/secrets/redis_password"
        assert "redis_password" in services[service]["secrets"]
    assert compose["secrets"]["label_studio_token"]["file"].startswith("./secrets/")
    assert (DOCKER / ".gitignore").read_text().splitlines()[-1] == "secrets/"
    text = (DOCKER / "docker-compose.yml").read_text()
    assert not re.search(r"LABEL_STUDIO_API_KEY\b(?!_FILE)", text)  # never the token itself
    assert not re.search(r"\b[0-9a-f]{40}\b", text)  # nor a token-looking value


def test_label_studio_gets_what_it_reads_and_its_secrets_from_files(services) -> None:
    ls = services["label-studio"]
    env = env_of(ls)
    assert set(env) <= LABEL_STUDIO_ENV
    assert env["LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN"] == "true"
    assert env["SENTRY_DSN"] == env["FRONTEND_SENTRY_DSN"] == ""
    script = ls["command"][-1]
    for name in ("label_studio_token", "label_studio_password"):
        assert name in ls["secrets"] and f"/run/secrets/{name}" in script
    assert "LABEL_STUDIO_USER_TOKEN" in script and "LABEL_STUDIO_PASSWORD" in script
    assert "/health" in " ".join(ls["healthcheck"]["test"])


def test_the_project_file_loads_and_lives_in_the_shared_volumes(monkeypatch) -> None:
    monkeypatch.setenv("ACTIVELEARN_LS_URL", "http://label-studio:8080")
    cfg = load_config(DOCKER / "project.yaml")
    assert cfg.work_dir.is_relative_to("/srv/activelearn/work")
    assert Path(cfg.data.root).is_relative_to("/srv/activelearn/data")
    assert cfg.label_studio.url == "http://label-studio:8080"  # from the environment
    assert cfg.jobs.redis_url == ""  # nothing secret or host-specific in the file


# -- Dockerfile -------------------------------------------------------------------------
def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, with continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DOCKER / "Dockerfile").read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_dockerfile_runs_activelearn_as_a_non_root_user_on_a_cuda_torch_base() -> None:
    steps = dockerfile_instructions()
    assert steps[0][0] == "FROM"
    base = steps[0][1]
    assert base.startswith("pytorch/pytorch:") and "cuda" in base and "runtime" in base
    users = [arg for word, arg in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0") and not users[-1].startswith("0:")
    runs = " ".join(arg for word, arg in steps if word == "RUN")
    assert "pip install ." in runs and "useradd" in runs and users[-1] in runs
    entrypoint = json.loads(dict(steps)["ENTRYPOINT"])
    assert entrypoint == ["activelearn"]
    check_cli(json.loads(dict(steps)["CMD"]))
    copied = [arg.split()[0] for word, arg in steps if word == "COPY"]
    assert {"pyproject.toml", "activelearn"} <= set(copied)
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
    assert "*" in ignore and "!activelearn/" in ignore  # only the package goes in


# -- systemd and cron -------------------------------------------------------------------
def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file as section -> key -> values (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            key, _, value = line.partition("=")
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_systemd_service_runs_a_real_cycle_command() -> None:
    service = unit(SYSTEMD / "activelearn-cycle.service")["Service"]
    assert service["Type"] == ["oneshot"] and service["User"] != ["root"]
    (exec_start,) = service["ExecStart"]
    program, *args = shlex.split(exec_start.lstrip("-@:+!"))
    assert PurePosixPath(program).name == "activelearn"
    ctx = check_cli(args)
    assert ctx is not None and ctx.info_name == "cycle" and ctx.params["no_progress"]
    names = {value.split("=", 1)[0] for value in service["Environment"]}
    assert names <= env_names_read_by_activelearn()
    assert "LABEL_STUDIO_API_KEY" not in names  # the token only as a file


def test_systemd_timer_starts_the_service() -> None:
    timer = unit(SYSTEMD / "activelearn-cycle.timer")
    assert timer["Timer"]["Unit"] == ["activelearn-cycle.service"]
    assert timer["Timer"]["OnCalendar"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


def test_the_readme_cron_line_and_systemd_recipe_name_real_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    (cron,) = re.findall(r"```cron\n(.*?)```", readme, re.S)
    schedule = cron.split(None, 5)
    calls = activelearn_calls(schedule[5])
    assert calls and all(check_cli(args) for args in calls)
    assigned = re.findall(r"\b([A-Z][A-Z0-9_]*)=", schedule[5])
    assert set(assigned) <= env_names_read_by_activelearn()
    for name in ("activelearn-cycle.service", "activelearn-cycle.timer"):
        assert f"deploy/systemd/{name}" in readme and (SYSTEMD / name).is_file()


def test_redis_wants_the_password_from_its_secret_file(compose, services) -> None:
    redis = services["redis"]
    script = " ".join(redis["command"])
    assert "--requirepass" in script and "/run/secrets/redis_password" in script
    assert "redis_password" in redis["secrets"]
    assert "/run/secrets/redis_password" in " ".join(redis["healthcheck"]["test"])
    assert compose["secrets"]["redis_password"]["file"] == "./secrets/redis_password"
