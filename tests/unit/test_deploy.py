"""docker/ and deploy/systemd/, checked statically: Docker and systemd cannot run on the
machines the tests run on (see docker/README.md, "What was not run here").

Every `activelearn ...` command they contain must parse with the real CLI, and every
environment variable given to activelearn must be one the package (or botocore, for the
S3 store) reads. The compose file's worker shares no volume with the controller: only
Redis (over TLS, with a password) and the S3 store.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import warnings
from pathlib import Path, PurePosixPath
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

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
# What botocore (under s3fs, for an s3:// artifact store) reads: the endpoint of an
# S3-compatible server, the credentials file, the region.
AWS_ENV = {"AWS_ENDPOINT_URL", "AWS_SHARED_CREDENTIALS_FILE", "AWS_DEFAULT_REGION"}
ACTIVELEARN_SERVICES = ("controller", "serve", "worker")
SECRET = re.compile(r"/run/secrets/([A-Za-z0-9_.-]+)")


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
            key, file_too = _env_key(node)
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                found = key.value
            elif isinstance(key, ast.Name) and key.id in constants:
                found = constants[key.id]
            else:
                continue
            names.update([found, f"{found}_FILE"] if file_too else [found])
    return names


def _env_key(node: ast.AST) -> tuple[ast.expr | None, bool]:
    """The key expression of an environment read (None: not one), and whether the
    read also takes the key's _FILE variable (token.env_secret: a secret from a
    variable, else from the file its _FILE variable names)."""
    if isinstance(node, ast.Call) and node.args:
        name = ast.unparse(node.func)
        if name in ("os.environ.get", "os.getenv"):
            return node.args[0], False
        if name.rpartition(".")[2] == "env_secret":
            return node.args[0], True
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) \
            and ast.unparse(node.value) == "os.environ":
        return node.slice, False
    return None, False


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
        if line.lstrip().startswith("#"):
            continue  # a comment line
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


class Mount(NamedTuple):
    source: str  # a named volume, or a host path (./..., /...) for a bind
    target: str
    read_only: bool

    @property
    def bind(self) -> bool:
        return self.source.startswith((".", "/", "~"))


def mounts_of(service: dict) -> list[Mount]:
    """A service's volumes, in the short (SOURCE:TARGET[:MODE]) or the long syntax."""
    found = []
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            found.append(Mount(str(entry.get("source", "")), entry["target"],
                               bool(entry.get("read_only"))))
            continue
        source, target, *mode = entry.split(":")
        found.append(Mount(source, target, "ro" in ",".join(mode).split(",")))
    return found


def secrets_of(service: dict) -> set[str]:
    """The names of the secrets a service is given (short or long syntax)."""
    return {s if isinstance(s, str) else s["source"] for s in service.get("secrets", [])}


def project_cfg(monkeypatch):
    monkeypatch.delenv("ACTIVELEARN_ARTIFACTS", raising=False)
    monkeypatch.delenv("ACTIVELEARN_REDIS_URL", raising=False)
    monkeypatch.setenv("ACTIVELEARN_LS_URL", "http://label-studio:8080")
    return load_config(DOCKER / "project.yaml")


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


def test_compose_has_its_services_and_their_volumes(compose, services) -> None:
    assert set(services) == {"redis", "minio", "minio-setup", "label-studio", "controller",
                             "serve", "worker"}
    assert services["redis"]["image"].startswith("redis:")
    assert services["label-studio"]["image"].startswith("heartexlabs/label-studio:")
    assert set(compose["volumes"]) >= {"work", "data", "worker-data", "worker-scratch",
                                       "redis", "minio", "label-studio"}
    assert "label-studio:/label-studio/data" in services["label-studio"]["volumes"]
    controller = set(mounts_of(services["controller"]))
    assert {Mount("work", "/srv/activelearn/work", False),
            Mount("data", "/srv/activelearn/data", False),
            Mount("./project.yaml", CONFIG_IN_CONTAINER, True)} <= controller
    assert set(mounts_of(services["worker"])) == {
        Mount("./project.yaml", CONFIG_IN_CONTAINER, True),
        Mount("worker-data", "/srv/activelearn/data", False),
        Mount("worker-scratch", "/srv/activelearn/scratch", False)}
    for name in ACTIVELEARN_SERVICES:
        assert services[name]["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert services[name]["depends_on"]["minio-setup"]["condition"] == \
            "service_completed_successfully"
    assert services["controller"]["depends_on"]["label-studio"]["condition"] == \
        "service_healthy"
    # serve starts cycles itself: the controller's state, shared through the work volume
    serve = set(mounts_of(services["serve"]))
    assert Mount("work", "/srv/activelearn/work", False) in serve
    assert services["serve"]["command"][:3] == ["serve", "--config", CONFIG_IN_CONTAINER]
    assert services["label-studio"]["environment"]["USE_DEFAULT_BANNED_SUBNETS"] == "false"


def test_the_worker_shares_no_volume_with_the_controller(compose, services) -> None:
    """Only Redis and the S3 store connect them: the worker could run elsewhere."""
    worker = mounts_of(services["worker"])
    for name, service in services.items():
        if name == "worker":
            continue
        other = mounts_of(service)
        shared = {m.source for m in worker if not m.bind} & {m.source for m in other}
        assert not shared, f"the worker shares volume {shared} with {name}"
        for mine in (m for m in worker if m.bind):  # a bind: the same file, read-only
            theirs = [m for m in other if m.source == mine.source]
            assert mine.read_only and all(m.read_only for m in theirs), mine
    assert all(m.read_only for m in worker if m.bind)  # no file of the host is written
    # the config file is the only bind, and holds no state: the queues' names
    assert [m.source for m in worker if m.bind] == ["./project.yaml"]
    # and no mount of its own lies on the controller's state (the work volume's path)
    assert not any(PurePosixPath(m.target).is_relative_to("/srv/activelearn/work")
                   for m in worker)


def test_every_secret_a_service_reads_is_given_and_exists(compose, services) -> None:
    declared = compose["secrets"]
    setup = (DOCKER / "docker-compose.yml").read_text().split("\nname:", 1)[0]
    for name, spec in declared.items():
        file = spec["file"]
        assert file.startswith("./secrets/"), name  # git-ignored: see .gitignore
        # the header's setup commands create it
        assert re.search(rf"(>|-out|-keyout) {re.escape(file[2:])}\b", setup), file
    for name, service in services.items():
        given = secrets_of(service)
        assert given <= set(declared), f"{name}: {given - set(declared)} not declared"
        read = set(SECRET.findall(json.dumps(service)))
        assert read <= given, f"{name} reads {read - given} without being given them"


def test_the_worker_reserves_an_nvidia_gpu_and_uses_it(services) -> None:
    worker = services["worker"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    (args,) = activelearn_commands(worker)
    assert args[0] == "worker" and check_cli(args).params["device"] == "cuda:0"


def test_the_worker_serves_the_projects_s3_store_from_its_own_scratch(
        services, monkeypatch) -> None:
    (args,) = activelearn_commands(services["worker"])
    params = check_cli(args).params
    cfg = project_cfg(monkeypatch)
    assert cfg.jobs.remote_artifacts and cfg.jobs.artifacts.startswith("s3://")
    assert list(params["stores"]) == [cfg.jobs.artifacts]  # the store the jobs name
    scratch = str(params["scratch"])
    (mount,) = [m for m in mounts_of(services["worker"]) if m.target == scratch]
    assert not mount.bind and not mount.read_only  # a volume of its own (see above)
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert scratch in dockerfile  # made in the image: the volume is the user's


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
    assert set(controller) <= known | AWS_ENV and set(worker) <= known | AWS_ENV
    assert controller["ACTIVELEARN_LS_URL"] == "http://label-studio:8080"
    assert controller["ACTIVELEARN_REDIS_URL"] == worker["ACTIVELEARN_REDIS_URL"]
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


def test_the_project_file_loads_and_lives_in_the_volumes(services, monkeypatch) -> None:
    cfg = project_cfg(monkeypatch)
    assert cfg.work_dir.is_relative_to("/srv/activelearn/work")  # the controller's
    assert Path(cfg.data.root).is_relative_to("/srv/activelearn/data")  # each has one
    for name in ACTIVELEARN_SERVICES:
        assert "/srv/activelearn/data" in {m.target for m in mounts_of(services[name])}
    assert cfg.data.download  # so the worker fetches its own copy of Fashion-MNIST
    assert cfg.label_studio.url == "http://label-studio:8080"  # from the environment
    assert cfg.jobs.redis_url == ""  # nothing secret or host-specific in the file
    # with the compose file's environment it still loads (the rediss:// URL passes)
    for name in ACTIVELEARN_SERVICES:
        for key, value in env_of(services[name]).items():
            monkeypatch.setenv(key, value)
        assert load_config(DOCKER / "project.yaml").jobs.redis_url.startswith("rediss://")


# -- the S3 store and Redis over TLS ----------------------------------------------------
def test_an_s3_service_holds_the_artifacts_and_activelearn_points_there(
        compose, services, monkeypatch) -> None:
    minio, setup = services["minio"], services["minio-setup"]
    image, _, tag = minio["image"].partition(":")
    assert image.endswith("minio/minio") and tag.startswith("RELEASE.")  # pinned
    assert setup["image"].split(":")[0].endswith("minio/mc")
    assert setup["image"].split(":")[1].startswith("RELEASE.")
    assert minio["healthcheck"]["test"]
    assert setup["depends_on"]["minio"]["condition"] == "service_healthy"
    assert setup["restart"] == "no"  # a one-shot job
    env = env_of(minio)
    assert env["MINIO_ROOT_USER_FILE"] == "/run/secrets/minio_root_user"
    assert env["MINIO_ROOT_PASSWORD_FILE"] == "/run/secrets/minio_root_password"
    assert {m.source for m in mounts_of(minio)} == {"minio"}
    cfg = project_cfg(monkeypatch)
    bucket = urlsplit(cfg.jobs.artifacts).netloc
    script = setup["command"][0]
    assert f"mc mb --ignore-existing local/{bucket}" in script
    assert f"arn:aws:s3:::{bucket}/*" in script  # activelearn's key: that bucket only
    for name in ACTIVELEARN_SERVICES:
        env = env_of(services[name])
        assert "ACTIVELEARN_ARTIFACTS" not in env  # project.yaml's jobs.artifacts
        endpoint = urlsplit(env["AWS_ENDPOINT_URL"])
        assert endpoint.hostname == "minio" and endpoint.port == 9000
        credentials = env["AWS_SHARED_CREDENTIALS_FILE"]
        assert SECRET.fullmatch(credentials).group(1) in secrets_of(services[name])
    assert compose["secrets"]["s3_credentials"]["file"] == "./secrets/s3_credentials"
    assert "s3_credentials" in secrets_of(setup)  # the key it creates is activelearn's
    assert not re.search(r"(?i)aws_(secret_)?access_key(_id)?\s*[:=]\s*\w",
                         json.dumps(services))  # no key in the file itself


def test_redis_speaks_only_tls_and_the_clients_check_its_certificate(services) -> None:
    redis = services["redis"]
    script = " ".join(redis["command"])
    words = script.split()

    def values(option: str) -> list[str]:
        return [words[i + 1] for i, word in enumerate(words) if word == option]

    assert values("--port") == ["0"]  # no plain-text port
    assert values("--tls-port") == ["6379"]
    assert values("--tls-auth-clients") == ["no"]  # the password authenticates clients
    for option in ("--tls-cert-file", "--tls-key-file", "--tls-ca-cert-file"):
        secret = SECRET.fullmatch(words[words.index(option) + 1]).group(1)
        assert secret in secrets_of(redis)
    health = " ".join(redis["healthcheck"]["test"])
    assert "--tls" in health and "--cacert /run/secrets/redis_ca" in health
    text = (DOCKER / "docker-compose.yml").read_text()
    assert not re.search(r"\bredis://", text)  # every URL is rediss://
    for name in ACTIVELEARN_SERVICES:
        url = env_of(services[name])["ACTIVELEARN_REDIS_URL"]
        parts = urlsplit(url)
        assert parts.scheme == "rediss" and parts.hostname == "redis" and parts.port == 6379
        assert parts.password is None  # the password comes from its file
        (ca,) = parse_qs(parts.query)["ssl_ca_certs"]
        assert SECRET.fullmatch(ca).group(1) in secrets_of(services[name])
        assert "ssl_cert_reqs" not in parts.query  # the certificate is checked


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
    assert "useradd" in runs and users[-1] in runs
    # s3fs for the S3 artifact store, starlette/uvicorn for `activelearn serve`
    assert re.search(r"pip install \"?\.\[s3,serve\]", runs)
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


def test_the_docs_cron_line_and_systemd_recipe_name_real_commands() -> None:
    readme = (ROOT / "docs" / "operations.md").read_text()  # Deployment, Backup and restore
    lines = [line for block in re.findall(r"```cron\n(.*?)```", readme, re.S)
             for line in block.splitlines() if line.strip()]
    commands = set()
    for line in lines:
        command = line.split(None, 5)[5]  # after the five schedule fields
        calls = activelearn_calls(command)
        assert all(check_cli(args) for args in calls), line
        commands |= {args[0] for args in calls}
        assigned = re.findall(r"\b([A-Z][A-Z0-9_]*)=", command)
        assert set(assigned) <= env_names_read_by_activelearn()
    assert {"cycle", "backup"} <= commands
    for name in ("activelearn-cycle.service", "activelearn-cycle.timer"):
        assert f"deploy/systemd/{name}" in readme and (SYSTEMD / name).is_file()


def test_redis_wants_the_password_from_its_secret_file(compose, services) -> None:
    redis = services["redis"]
    script = " ".join(redis["command"])
    assert "--requirepass" in script and "/run/secrets/redis_password" in script
    assert "redis_password" in redis["secrets"]
    assert "/run/secrets/redis_password" in " ".join(redis["healthcheck"]["test"])
    assert compose["secrets"]["redis_password"]["file"] == "./secrets/redis_password"



# -- the docs ---------------------------------------------------------------------------
@pytest.mark.parametrize("readme", ["docker/README.md", "workers/README.md"])
def test_the_readmes_run_workers_elsewhere_with_real_commands(readme) -> None:
    text = (ROOT / readme).read_text()
    assert "rediss://" in text and "AWS_ENDPOINT_URL" in text
    assert not re.search(r"\bredis://[^\s`]*@", text)  # no password in a plain URL
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", text, re.S)
    calls = [args for block in blocks for args in activelearn_calls(block)]
    workers = [args for args in calls if args[0] == "worker"]
    assert workers, f"{readme}: no `activelearn worker` command"
    for args in calls:
        check_cli(args)
    assert any(check_cli(args).params["stores"] and check_cli(args).params["scratch"]
               for args in workers)
    assigned = {name for block in blocks  # VAR=... or export VAR=..., not -subj /CN=...
                for name in re.findall(r"(?m)(?:^|\s)([A-Z][A-Z0-9_]*)=", block)}
    assert assigned <= env_names_read_by_activelearn() | AWS_ENV
