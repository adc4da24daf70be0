"""label_studio.image_mode s3-storage against the real Label Studio, with moto's S3 server
as the endpoint (support/storage.py): a round pushes tasks that hold their s3:// URIs,
and Label Studio, through the S3 storage activelearn connected, serves each image after
the time a URL presigned the old way (image_mode url) stopped working. The bad inputs
(no keys, keys S3 refuses, a bucket gone, an endpoint that does not answer) are one line
each (a cycle that cannot connect the storage pushes no task, and the next cycle with the
fault fixed pushes them), and a refusal leaves the storage as it was.

moto never checks a presigned URL's expiry nor an access key, which is what these tests
are about: ExpiringS3, a small proxy in front of moto, refuses both as S3 does (403
AccessDenied "Request has expired" once X-Amz-Date + X-Amz-Expires has passed; 403
InvalidAccessKeyId for a key other than the bucket's). Label Studio and activelearn both
reach moto only through it.
"""

from __future__ import annotations

import dataclasses
import http.client
import io
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest
from PIL import Image

from activelearn.annotation import TaskSpec
from activelearn.annotation.label_studio.client import LabelStudioBackend
from activelearn.config import load_config
from activelearn.data.uris import presigned_url
from activelearn.errors import BackendError
from activelearn.loop.s3_storage import connect_storages
from support.loop import Project, cycle, cycle_result
from support.project_files import thirteen_image_project
from support.storage import serve_in_thread

KEY_ID, SECRET = "AKIATESTSTORAGE00001", "storage-test-secret-key-0001"
NEW_ID, NEW_SECRET = "AKIATESTSTORAGE00002", "storage-test-secret-key-0002"


def png(seed: int, size: int = 8) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


class ExpiringS3(BaseHTTPRequestHandler):
    """Forwards every request to moto (`target`, host:port), but refuses, as S3 does, a
    presigned URL past its expiry and a request signed with an access key not in
    `allowed` (moto checks neither)."""

    target: str
    allowed: set[str]

    def _forward(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        credential = query.get("X-Amz-Credential", [""])[0] or \
            self.headers.get("Authorization", "").partition("Credential=")[2]
        if credential and credential.split("/", 1)[0] not in self.allowed:
            return self._refuse("InvalidAccessKeyId", "The AWS Access Key Id you provided "
                                "does not exist in our records.")
        if "X-Amz-Expires" in query:
            signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
            expires = signed.replace(tzinfo=timezone.utc) + \
                timedelta(seconds=int(query["X-Amz-Expires"][0]))
            if datetime.now(timezone.utc) > expires:
                return self._refuse("AccessDenied", "Request has expired")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(self.target, timeout=30)
        conn.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
        answer = conn.getresponse()
        data = answer.read()
        conn.close()
        self.send_response(answer.status)
        for name, value in answer.getheaders():  # HEAD: the object's Content-Length
            if name.lower() not in ("transfer-encoding", "connection") and (
                    self.command == "HEAD" or name.lower() != "content-length"):
                self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _refuse(self, code: str, message: str) -> None:
        body = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
                f"<Message>{message}</Message></Error>").encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward

    def log_message(self, format, *args) -> None:
        pass


@pytest.fixture
def s3(s3_bucket, monkeypatch):
    """The test's bucket behind ExpiringS3: the AWS environment points at the proxy, with
    the one access key it accepts; yields (the bucket, the proxy's URL, the accepted
    access key ids, which the test may change)."""
    import s3fs

    allowed = {KEY_ID}
    handler = type("Handler", (ExpiringS3,), {"target": urlsplit(s3_bucket.endpoint).netloc,
                                              "allowed": allowed})
    server, url = serve_in_thread(handler)
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        yield s3_bucket, url, allowed
    finally:
        server.shutdown()
        server.server_close()
        s3fs.S3FileSystem.clear_instance_cache()


def s3_project(project_file, tmp_path, bucket, title: str, **label_studio) -> tuple:
    """A project whose manifest names 13 PNGs in the bucket under pool/ (holdout 3 +
    initial 10: the first cycle pushes them all); returns (its file, uri -> bytes)."""
    images, rows = {}, ["id,path"]
    for i in range(13):
        folder = "red" if i % 2 else "dark"
        uri = bucket.put(f"pool/{folder}/img{i:02d}.png", png(200 + i))
        images[uri] = png(200 + i)
        rows.append(f"img{i:02d},{uri}")
    path = thirteen_image_project(project_file, tmp_path, rows[1:], project_title=title,
                                  image_mode="s3-storage", storage_presign_ttl=1,
                                  **label_studio)
    return path, images


def shown_image(server, task_id: int) -> httpx.Response:
    """The task's image as Label Studio shows it to an annotator: the task's data.image
    (Label Studio rewrites an s3:// URI of a storage's bucket into its /tasks/ID/resolve/
    URL), then the presigned URL that redirects to, fetched with nothing but the URL."""
    auth = {"Authorization": f"Token {server.token}"}
    task = httpx.get(f"{server.url}/api/tasks/{task_id}/", headers=auth, timeout=30).json()
    resolve = task["data"]["image"]
    assert resolve.startswith(f"/tasks/{task_id}/resolve/?fileuri="), resolve
    redirect = httpx.get(server.url + resolve, headers=auth, timeout=30)
    assert redirect.status_code == 303, redirect.status_code
    return httpx.get(redirect.headers["location"], timeout=30)


def test_an_image_shows_after_a_presigned_url_of_the_old_mode_expired(
        project_file, ls_env, ls_project_title, s3, tmp_path):
    bucket, endpoint, _ = s3
    path, images = s3_project(project_file, tmp_path, bucket, ls_project_title)

    out = cycle(path)

    assert "connected Label Studio's S3 storage" in out
    p = Project(path, ls_env)
    storages = list(p.backend.client.import_storage.s3.list(project=p.project_id))
    assert [(s.bucket, s.prefix, s.s3endpoint, s.presign_ttl, s.presign) for s in storages] \
        == [(bucket.name, "pool", endpoint, 1, True)]
    tasks = p.tasks()
    assert len(tasks) == 13
    raw = {t.id: t.data["image"] for t in p.backend.client.tasks.list(
        project=p.project_id, fields="all", resolve_uri=False)}
    assert sorted(raw.values()) == sorted(images)  # the s3:// URIs as they are
    # the old mode: a URL presigned at push time, here for 2 s
    uri = sorted(images)[0]
    old = presigned_url(uri, 2)
    assert httpx.get(old, timeout=30).status_code == 200
    time.sleep(3.2)  # past its X-Amz-Date (whole seconds) + 2 s
    expired = httpx.get(old, timeout=30)
    assert (expired.status_code, b"Request has expired" in expired.content) == (403, True)
    # Label Studio signs anew on each view: every task still shows its image
    for task_id, stored in raw.items():
        shown = shown_image(ls_env, task_id)
        assert (shown.status_code, shown.content) == (200, images[stored]), stored
    # the next pushing cycle finds the storage (by its bucket) and refreshes it
    assert Linked(path, ls_env, ls_project_title, images).connect() == [storages[0].id]
    assert len(list(p.backend.client.import_storage.s3.list(project=p.project_id))) == 1


def failed_cycle(path, ls_env) -> tuple[str, Project]:
    """A cycle that must fail with one line, having pushed no task and planned no
    batch; (the line, project)."""
    code, out = cycle_result(path)
    assert code == 1, out
    p = Project(path, ls_env)
    linked = p.backend.projects.find(p.cfg.label_studio.project_title)
    assert linked is None or list(p.backend.client.tasks.list(project=linked)) == []
    with p.store() as store:
        assert (store.tasks.by_item(), store.batches.all()) == ({}, [])
    return out.strip().splitlines()[-1], p


def test_no_keys_in_the_environment_is_one_line_and_nothing_is_lost(
        project_file, ls_env, ls_project_title, s3, tmp_path, monkeypatch):
    import s3fs

    bucket, _, _ = s3
    path, images = s3_project(project_file, tmp_path, bucket, ls_project_title)
    # the pool is read with a profile's keys; none is in the environment to hand over
    profile = tmp_path / "aws-credentials"
    profile.write_text(f"[default]\naws_access_key_id = {KEY_ID}\n"
                       f"aws_secret_access_key = {SECRET}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(profile))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    s3fs.S3FileSystem.clear_instance_cache()
    line, p = failed_cycle(path, ls_env)
    assert line.startswith("error: no AWS keys for Label Studio's S3 storage"), line
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in line
    # the keys in files (the _FILE convention): the round resumes and pushes its tasks
    for name, value in (("AWS_ACCESS_KEY_ID", KEY_ID), ("AWS_SECRET_ACCESS_KEY", SECRET)):
        (tmp_path / name).write_text(value + "\n")
        monkeypatch.setenv(f"{name}_FILE", str(tmp_path / name))
    cycle(path)
    tasks = p.tasks()
    assert len(tasks) == 13
    shown = shown_image(ls_env, tasks[0].id)
    assert shown.status_code == 200 and shown.content in images.values()


class Linked:
    """The Label Studio project of the title (found or made: no cycle, these tests are
    about the storage alone), the project file's settings, and the pool's images."""

    def __init__(self, path, server, title: str, images: dict) -> None:
        self.cfg = load_config(path)
        self.backend = LabelStudioBackend.connect(server.url, server.token)
        self.project_id = self.backend.projects.ensure(title, ["red", "dark"])
        self.images = images

    def connect(self) -> list[int]:
        """What a pushing cycle does first: connect the storages of the pool's buckets."""
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
        return connect_storages(self.cfg.label_studio, self.backend, self.project_id,
                                sorted(self.images), lambda line: None)

    def push(self) -> int:
        """A task of the pool's first image, pushed as a cycle pushes it; its id."""
        uri = sorted(self.images)[0]
        spec = TaskSpec(item_id="img", image=uri, round=0, strategy="random", kind="initial")
        return self.backend.tasks.push(self.project_id, [spec])["img"]


def test_rotated_keys_reach_the_storage_and_refusals_are_one_line_changing_nothing(
        project_file, ls_env, ls_project_title, s3, tmp_path, monkeypatch):
    bucket, _, allowed = s3
    path, images = s3_project(project_file, tmp_path, bucket, ls_project_title)
    p = Linked(path, ls_env, ls_project_title, images)
    (storage,) = p.connect()
    task_id = p.push()
    assert shown_image(ls_env, task_id).status_code == 200
    # a new key while tasks wait: the next pushing cycle hands it over, the old one retires
    allowed.add(NEW_ID)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", NEW_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", NEW_SECRET)
    assert p.connect() == [storage]
    allowed.discard(KEY_ID)
    assert shown_image(ls_env, task_id).status_code == 200

    def refusal() -> str:
        with pytest.raises(BackendError) as refused:
            p.connect()
        line = str(refused.value)
        assert "\n" not in line and f"S3 storage s3://{bucket.name}/pool" in line, line
        assert shown_image(ls_env, task_id).status_code == 200  # the storage unchanged
        return line

    # keys S3 refuses: one line without them
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "another-secret-key-0003")
    line = refusal()
    assert line.endswith("fails too: access denied: Forbidden"), line
    assert "AKIAWRONGWRONGWRONG1" not in line and "another-secret-key-0003" not in line
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", NEW_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", NEW_SECRET)
    # an endpoint that does not answer (Label Studio's, set in the project file)
    ls = p.cfg.label_studio
    p.cfg = dataclasses.replace(p.cfg, label_studio=dataclasses.replace(
        ls, storage_endpoint="http://127.0.0.1:9"))
    line = refusal()
    assert "(Label Studio reads the bucket at http://127.0.0.1:9)" in line, line
    assert line.endswith("the endpoint http://127.0.0.1:9 does not answer from here either: "
                         "Connection refused"), line
    p.cfg = dataclasses.replace(p.cfg, label_studio=ls)
    # a bucket gone
    for uri in images:
        bucket.client.delete_object(Bucket=bucket.name, Key=uri.split("/", 3)[3])
    bucket.client.delete_bucket(Bucket=bucket.name)
    with pytest.raises(BackendError) as gone:
        p.connect()
    line = str(gone.value)
    assert "\n" not in line and f"S3 storage s3://{bucket.name}/pool" in line, line
    assert line.endswith("fails too: no such bucket"), line
