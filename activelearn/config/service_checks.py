"""The checks of the keys that name services: Label Studio's URL and image modes, the
Redis URL, the artifact store, URL templates. Part of checks.py's one-line problems;
a URL's password is never shown: it appears as ``***``."""

from __future__ import annotations

import dataclasses
import os
import re
import string
from collections.abc import Iterator
from typing import Any
from urllib.parse import SplitResult, parse_qs, unquote_plus, urlsplit

from activelearn.config.ranges import Range
from activelearn.config.schema import Config, DataConfig, JobsConfig, LabelStudioConfig
from activelearn.errors import CREDENTIAL_PARAM

TEMPLATE_FIELDS = ("item_id", "path")
# jobs.artifacts: a folder (file) or a remote store fsspec writes to
ARTIFACT_SCHEMES = ("file", "s3", "gs", "gcs", "az", "abfs", "memory")
IMAGE_FOLDER_SCHEMES = ("file", "http", "https", "s3")  # what data/uris.py lists
STORE_TIMEOUT = Range(1, 3600, note=" seconds")  # jobs.store_timeout
# label_studio.storage_presign_ttl
PRESIGN_TTL = Range(1, 7 * 24 * 60, note=" minutes, 7 days: the longest S3 signs a URL for")


def service_problems(cfg: Config) -> Iterator[str]:
    """The problems of every key that names a server, a store, a URL or a path."""
    yield from _nul_problems(cfg, "")
    yield from label_studio_problems(cfg.label_studio)
    yield from data_root_problems(cfg.data)
    yield from jobs_problems(cfg.jobs)


def _nul_problems(value: Any, at: str) -> Iterator[str]:
    """A NUL character (YAML's "\\0") in a text key: no path, URL or name holds one (the
    system refuses it at the first use, as a crash)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _nul_problems(getattr(value, f.name), f"{at}.{f.name}" if at else f.name)
    elif isinstance(value, str) and "\x00" in value:
        yield f'{at}: holds a NUL character (\\0), got "{ascii(value)[1:-1]}"'


def data_root_problems(data: DataConfig) -> Iterator[str]:
    """data.root of the file sources: imagefolder's a folder (a path, file:// of this
    machine, http(s):// with a host, s3:// with a bucket); manifest's a local .csv or
    .jsonl file. (Whether it exists is the source's to say, when it is read.)"""
    shown = show(data.root)
    scheme = data.root.split("://", 1)[0].lower() if "://" in data.root else ""
    if data.source == "manifest":
        if scheme or not data.root.lower().endswith((".csv", ".jsonl")):
            yield f"data.root: a manifest is a local .csv or .jsonl file, got {shown}"
        return
    if data.source != "imagefolder" or not scheme:
        return
    if scheme not in IMAGE_FOLDER_SCHEMES:
        yield (f"data.root: an image folder is a path or a file://, http://, https:// or "
               f"s3:// URL, got {shown}")
        return
    try:
        parts = urlsplit(data.root)
    except ValueError:
        yield f"data.root: not a valid URL, got {shown}"
        return
    if scheme == "file" and parts.netloc not in ("", "localhost"):
        yield (f"data.root: a file:// URL names a folder on this machine (file:///path), "
               f"not on host {parts.netloc!r}, got {shown}")
    elif scheme != "file" and not parts.netloc:
        what = "bucket" if scheme == "s3" else "host"
        yield f"data.root: names no {what}, e.g. {scheme}://{what.upper()}/folder, got {shown}"


def label_studio_problems(ls: LabelStudioConfig) -> Iterator[str]:
    if ls.url:
        for problem in _url_problems("label_studio.url", ls.url, ("http", "https")):
            yield f"{problem} (from the key or $ACTIVELEARN_LS_URL)"
    if ls.image_mode == "url-template" and not ls.url_template:
        yield "label_studio.url_template: needed when image_mode is url-template"
    if ls.url_template:
        yield from _template_problems("label_studio.url_template", ls.url_template)
    yield from _storage_problems(ls)
    if ls.image_mode == "local-files":
        if not ls.document_root:
            yield "label_studio.document_root: needed when image_mode is local-files"
        elif not os.path.isabs(ls.document_root):
            yield ("label_studio.document_root: must be an absolute path (the Label Studio "
                   "server's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT), got "
                   f"{show(ls.document_root)}")


AWS_REGION = re.compile(r"[a-z]{2}(-[a-z0-9]+){1,4}")  # eu-west-1, us-gov-east-1, cn-north-1


def _storage_problems(ls: LabelStudioConfig) -> Iterator[str]:
    """The S3 storage of image_mode s3-storage: an endpoint Label Studio can call (no
    credentials in it: they come from the environment), a region name."""
    if ls.storage_endpoint:
        shown = show(mask_password(ls.storage_endpoint))
        if "@" in ls.storage_endpoint:
            yield ("label_studio.storage_endpoint: credentials do not belong in the URL "
                   f"(they come from $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY), got {shown}")
        else:
            yield from _url_problems("label_studio.storage_endpoint", ls.storage_endpoint,
                                     ("http", "https"))
    yield from filter(None, [PRESIGN_TTL.problem("label_studio.storage_presign_ttl",
                                                 ls.storage_presign_ttl)])
    if ls.storage_region and not AWS_REGION.fullmatch(ls.storage_region):
        yield ("label_studio.storage_region: an AWS region name such as eu-west-1 (or empty "
               f"for $AWS_DEFAULT_REGION), got {show(ls.storage_region)}")


def jobs_problems(jobs: JobsConfig) -> Iterator[str]:
    if jobs.gpu_queue == "" or jobs.cpu_queue == "":
        yield "jobs.gpu_queue / jobs.cpu_queue: a queue needs a name"
    if jobs.redis_url:
        for problem in _url_problems("jobs.redis_url", jobs.redis_url,
                                     ("redis", "rediss", "unix")):
            yield f"{problem} (from the key or $ACTIVELEARN_REDIS_URL)"
    if jobs.redis_url:
        for problem in _redis_option_problems("jobs.redis_url", jobs.redis_url):
            yield f"{problem} (from the key or $ACTIVELEARN_REDIS_URL)"
    yield from filter(None, [STORE_TIMEOUT.problem("jobs.store_timeout", jobs.store_timeout)])
    if jobs.artifacts:
        for problem in artifacts_problems("jobs.artifacts", jobs.artifacts):
            yield f"{problem} (from the key or $ACTIVELEARN_ARTIFACTS)"


def artifacts_problems(key: str, url: str) -> Iterator[str]:
    """An artifact store (jobs.artifacts, worker --artifacts): an absolute folder, a
    file:// URL of this machine (no host, or localhost) with an absolute path, or a
    remote store's URL with a bucket (s3://bucket/prefix). A relative folder would be
    another one for every current directory (cron's, a worker's)."""
    shown = show(mask_password(url))
    scheme = url.split("://", 1)[0].lower() if "://" in url else "file"
    if scheme not in ARTIFACT_SCHEMES:
        yield (f"{key}: {shown} is no store jobs can write to (a folder, file://, or one "
               f"of {', '.join(s + '://' for s in ARTIFACT_SCHEMES[1:])})")
        return
    if "://" not in url:
        if not os.path.isabs(os.path.expanduser(url)):
            yield f"{key}: a folder must be an absolute path, got {shown}"
        return
    try:
        parts = urlsplit(url)
    except ValueError:
        yield f"{key}: not a valid URL, got {shown}"
        return
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            yield (f"{key}: a file:// URL names a folder on this machine (file:///path or "
                   f"file://localhost/path), not on host {parts.netloc!r}, got {shown}")
        elif not parts.path.startswith("/"):
            yield f"{key}: a file:// URL needs an absolute path (file:///path), got {shown}"
    elif scheme != "memory" and "@" in parts.netloc:
        yield (f"{key}: credentials do not belong in the URL (the AWS settings or the "
               f"store's own configuration hold them), got {shown}")
    elif scheme != "memory" and not parts.hostname:
        yield (f"{key}: names no bucket; write {scheme}://BUCKET or {scheme}://BUCKET/prefix, "
               f"got {shown}")


def _template_problems(key: str, template: str) -> Iterator[str]:
    """label_studio.url_template: str.format with {item_id} and {path} only, to a URL."""
    shown = show(template)
    try:
        fields = [(name, conversion, spec) for _, name, spec, conversion
                  in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        yield (f"{key}: not a valid template ({exc}; write {{{{ or }}}} for a literal "
               f"brace), got {shown}")
        return
    for name, conversion, spec in fields:
        if name not in TEMPLATE_FIELDS or conversion or spec:
            placeholder = (f"{{{name}{'!' + conversion if conversion else ''}"
                           f"{':' + spec if spec else ''}}}")
            yield (f"{key}: placeholder {show(placeholder)} is not allowed (only {{item_id}} "
                   f"and {{path}}, without ! or :), got {shown}")
            return
    if not fields:
        yield f"{key}: needs {{item_id}} or {{path}}, or every task shows one image, got {shown}"
    if not template.startswith(("http://", "https://", "/")):
        yield f"{key}: must start with http://, https:// or /, got {shown}"


def _url_problems(key: str, url: str, schemes: tuple[str, ...]) -> Iterator[str]:
    """A server URL of one of schemes: a host and a valid port (unix: a socket path), and
    for Redis a whole-number database. Messages show the URL with its password masked."""
    shown = show(mask_password(url))
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed [IPv6 address
        yield f"{key}: not a valid URL, got {shown}"
        return
    if parts.scheme not in schemes:
        allowed = ", ".join(f"{s}://" for s in schemes)
        yield f"{key}: must start with {allowed}, got {shown}"
        return
    # a "/", "?" or "#" in a password ends the host part early: the usual cause of an
    # unparsable host or port when the URL has an "@"
    hint = ("; percent-encode '/', '?' and '#' in a password (%2F, %3F, %23)"
            if "@" in url and "@" not in parts.netloc else "")
    if parts.scheme == "unix":
        if not parts.path:
            yield f"{key}: needs the socket's path, e.g. unix:///run/redis.sock, got {shown}"
    elif not parts.hostname:
        yield f"{key}: needs a host, e.g. {parts.scheme}://127.0.0.1, got {shown}{hint}"
    elif not _port_ok(parts):
        yield f"{key}: the port must be a whole number from 1 to 65535, got {shown}{hint}"
    if parts.scheme in ("redis", "rediss", "unix") and not _redis_db_ok(parts):
        yield (f"{key}: the database (the path, e.g. /0, or db=) must be a whole number, "
               f"0 or more, got {shown}{hint}")


# The options a redis:// or unix:// URL's query may set, and what each takes (redis-py
# passes any other one to the connection, which fails on it at the first command);
# rediss:// also takes the ssl_* ones.
_WHOLE, _NUMBER, _BOOL, _PATH = ("a whole number", "a number", "true or false",
                                 "an absolute path")
REDIS_OPTIONS = {"db": _WHOLE, "socket_timeout": _NUMBER, "socket_connect_timeout": _NUMBER,
                 "socket_keepalive": _BOOL, "retry_on_timeout": _BOOL,
                 "health_check_interval": _WHOLE, "max_connections": _WHOLE,
                 "client_name": "a name", "protocol": "2 or 3"}
REDIS_TLS_OPTIONS = {"ssl_cert_reqs": "none, optional or required",
                     "ssl_check_hostname": _BOOL, "ssl_ca_certs": _PATH,
                     "ssl_certfile": _PATH, "ssl_keyfile": _PATH, "ssl_ca_path": _PATH}


def _redis_option_problems(key: str, url: str) -> Iterator[str]:
    """The query options of a Redis URL: known to redis-py for the scheme, each with a
    value it can read (?ssl_ca_certs= on a redis:// URL fails only at the first command)."""
    try:
        parts = urlsplit(url)
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        yield f"{key}: the options after ? must be name=value pairs joined by &"
        return
    allowed = {**REDIS_OPTIONS, **(REDIS_TLS_OPTIONS if parts.scheme == "rediss" else {})}
    for name, values in query.items():
        if name in ("password", "username"):
            yield (f"{key}: {name} does not belong in the options after ?: write "
                   "redis://USER:PASSWORD@host/0, or set $ACTIVELEARN_REDIS_PASSWORD_FILE")
            return
        if name not in allowed:
            tls = " (the ssl_* ones need rediss://)" if name in REDIS_TLS_OPTIONS else ""
            yield (f"{key}: unknown option {show(name)}{tls}; allowed: "
                   f"{', '.join(sorted(allowed))}")
            return
        wanted = allowed[name]
        for value in values:
            if not _redis_value_ok(wanted, value):
                yield f"{key}: option {name} needs {wanted}, got {show(value)}"
                return


def _redis_value_ok(wanted: str, value: str) -> bool:
    if wanted == _WHOLE:
        return value.isascii() and value.isdigit()
    if wanted == _NUMBER:
        try:
            return float(value) >= 0 and float(value) != float("inf")
        except ValueError:
            return False
    if wanted == _BOOL:
        return value.lower() in ("true", "false", "yes", "no", "1", "0")
    if wanted == "2 or 3":
        return value in ("2", "3")
    if wanted.startswith("none,"):
        return value in ("none", "optional", "required")
    if wanted == _PATH:
        return os.path.isabs(value)
    return bool(value)


def _port_ok(parts: SplitResult) -> bool:
    try:
        port = parts.port
    except ValueError:  # not a number, or above 65535
        return False
    return port is None or 1 <= port <= 65535


def _redis_db_ok(parts: SplitResult) -> bool:
    """redis-py reads the database from db= first, then from the path (not for unix
    sockets), and silently uses 0 for a path that is not a number."""
    given = parse_qs(parts.query, keep_blank_values=True).get("db", [])
    if parts.scheme != "unix" and parts.path not in ("", "/"):
        given.append(parts.path[1:])
    return all(db.isascii() and db.isdigit() for db in given)


def mask_password(url: str) -> str:
    """url with everything between the first ":" of its user info and the last "@"
    shown as ***: the password never reaches a message, even when it holds a "/"; so is
    the value of an option after "?" named like a credential (errors.CREDENTIAL_PARAM:
    password=, token=, api_key=, X-Amz-Signature=, ...)."""
    url = _OPTION.sub(_masked_option, url)
    before, at, after = url.rpartition("@")
    if not at:
        return url
    scheme = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", before)
    prefix = scheme.group() if scheme else ""
    user, colon, _ = before[len(prefix):].partition(":")
    return f"{prefix}{user}:***@{after}" if colon else url


_OPTION = re.compile(r"([?&]([^=&#]*)=)[^&#]*")


def _masked_option(option: re.Match[str]) -> str:
    """An option after "?" with its value as *** when its name is a credential's
    (errors.CREDENTIAL_PARAM, as payloads drop them: password, token, key, a signature)."""
    return option.group(1) + "***" if CREDENTIAL_PARAM.search(unquote_plus(option.group(2))) \
        else option.group(0)


def show(text: str) -> str:
    """text in double quotes on one line (newlines and other control characters escaped)."""
    return '"' + repr(text)[1:-1] + '"'
