"""label_studio.image_mode s3-storage against the real Label Studio, with moto's S3 server
as the endpoint (support/storage.py): a round pushes tasks that hold their s3:// URIs,
and Label Studio, through the S3 storage activelearn connected, serves each image after
the time a URL presigned the old way (image_mode url) stopped working. The bad inputs
(no keys, keys S3 refuses, a bucket gone, an endpoint that does not answer) are one line
each, and no task is pushed; the next cycle with the fault fixed pushes them.

moto never checks a presigned URL's expiry nor an access key, which is what these tests
are about: ExpiringS3, a small proxy in front of moto, refuses both as S3 does (403
AccessDenied "Request has expired" once X-Amz-Date + X-Amz-Expires has passed; 403
InvalidAccessKeyId for a key other than the bucket's). Label Studio and activelearn both
reach moto only through it.
"""

from __future__ import annotations

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

from activelearn.data.uris import presigned_url
from activelearn.errors import BackendError
from activelearn.loop.s3_storage import connect_storages
from support.loop import Project, cycle, cycle_result
from support.storage import serve_in_thread

KEY_ID, SECRET = "AKIATESTSTORAGE00001", "storage-test-secret-key-0001"


def png(seed: int, size: int = 8) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


class ExpiringS3(BaseHTTPRequestHandler):
    """Forwards every request to moto (`target`, host:port), but refuses, as S3 does, a
    presigned URL past its expiry and a request signed with another access key than
    KEY_ID (moto checks neither)."""

    target: str

    def _forward(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        credential = query.get("X-Amz-Credential", [""])[0] or \
            self.headers.get("Authorization", "").partition("Credential=")[2]
        if credential and not credential.startswith(KEY_ID + "/"):
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
    the one access key it accepts."""
    import s3fs

    handler = type("Handler", (ExpiringS3,), {"target": urlsplit(s3_bucket.endpoint).netloc})
    server, url = serve_in_thread(handler)
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        yield s3_bucket, url
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
    manifest = tmp_path / "images.csv"
    manifest.write_text("\n".join(rows) + "\n")
    path = project_file(
        data={"source": "manifest", "root": str(manifest), "image_size": [8, 8],
              "channels": 3},
        classes=["red", "dark"], loop={"initial": 10, "batch": 2, "budget": 20},
        label_studio={"project_title": title, "holdout": 3, "image_mode": "s3-storage",
                      "storage_presign_ttl": 1, **label_studio})
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
    bucket, endpoint = s3
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
    # a second cycle finds the storage (by its bucket) and refreshes it: still one
    cycle(path)
    assert len(list(p.backend.client.import_storage.s3.list(project=p.project_id))) == 1


def failed_cycle(path, ls_env) -> tuple[str, Project]:
    """A cycle that must fail with one line, having pushed no task; (the line, project)."""
    code, out = cycle_result(path)
    assert code == 1, out
    p = Project(path, ls_env)
    assert p.tasks() == []
    with p.store() as store:
        assert store.tasks.by_item() == {}
    return out.strip().splitlines()[-1], p


def test_no_keys_in_the_environment_is_one_line_and_nothing_is_lost(
        project_file, ls_env, ls_project_title, s3, tmp_path, monkeypatch):
    import s3fs

    bucket, _ = s3
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


def test_keys_s3_refuses_are_one_line_without_the_keys(
        project_file, ls_env, ls_project_title, s3, tmp_path, monkeypatch):
    bucket, _ = s3
    path, images = s3_project(project_file, tmp_path, bucket, ls_project_title)
    cycle(path)
    p = Project(path, ls_env)
    # keys rotated at S3 while tasks wait: the next pushing cycle hands over refused ones
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "another-secret-key-0002")
    with pytest.raises(BackendError) as refused:
        _connect(p, images)
    line = str(refused.value)
    assert "\n" not in line and f"S3 storage s3://{bucket.name}/pool" in line, line
    assert "InvalidAccessKeyId" in line or "denied" in line.lower(), line
    assert "AKIAWRONGWRONGWRONG1" not in line and "another-secret-key-0002" not in line
    assert len(p.tasks()) == 13  # the storage kept its working keys: nothing changed


def _connect(p: Project, images: dict) -> list[int]:
    """What a pushing cycle does first: connect the storages of the pool's buckets."""
    s3fs_cache_clear()
    return connect_storages(p.cfg.label_studio, p.backend, p.project_id, sorted(images),
                            lambda line: None)


def s3fs_cache_clear() -> None:
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()


def test_a_bucket_gone_is_one_line_and_no_task_is_pushed(
        project_file, ls_env, ls_project_title, s3, tmp_path):
    bucket, _ = s3
    path, images = s3_project(project_file, tmp_path, bucket, ls_project_title)
    cycle(path)
    p = Project(path, ls_env)
    before = len(p.tasks())
    for uri in images:
        bucket.client.delete_object(Bucket=bucket.name, Key=uri.split("/", 3)[3])
    bucket.client.delete_bucket(Bucket=bucket.name)
    with pytest.raises(BackendError) as gone:
        _connect(p, images)
    line = str(gone.value)
    assert "\n" not in line and f"S3 storage s3://{bucket.name}/pool" in line
    assert "NoSuchBucket" in line or "no such bucket" in line.lower(), line
    assert len(p.tasks()) == before


def test_an_endpoint_that_does_not_answer_is_one_line(
        project_file, ls_env, ls_project_title, s3, tmp_path):
    bucket, _ = s3
    path, _ = s3_project(project_file, tmp_path, bucket, ls_project_title,
                         storage_endpoint="http://127.0.0.1:9")
    line, _ = failed_cycle(path, ls_env)
    assert "S3 storage s3://" in line and "http://127.0.0.1:9" in line, line
    assert "the endpoint http://127.0.0.1:9 does not answer from here either: " \
        "Connection refused" in line, line
