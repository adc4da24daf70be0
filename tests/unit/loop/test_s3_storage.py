"""label_studio.image_mode s3-storage without a server (loop/push.py, loop/s3_storage.py):
a task holds its s3:// URI as it is; a pool with other images is refused at check time
naming the mode that fits; the storages a pool needs (one per bucket, the folder of all
its images in that bucket as prefix, the settings and keys of the environment); the keys
come from the environment or files and are never shown. Against the real Label Studio and
moto: tests/integration/test_ls_storage.py."""

from __future__ import annotations

import pytest

from activelearn.annotation import AwsKeys
from activelearn.annotation.label_studio.token import aws_keys
from activelearn.config import Config
from activelearn.errors import BackendAuthError, ConfigError, redact
from activelearn.loop.push import TaskPusher, check_image_mode
from activelearn.loop.s3_storage import storage_sources
from support.pools import manifest_config, named_pool

AWS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
ID, SECRET, SESSION = "AKIAUNITTESTKEY00001", "unit-test-secret-0001", "unit-session-token-01"


def _config(**label_studio) -> Config:
    return manifest_config("s3-storage", **label_studio)


@pytest.fixture
def keys(monkeypatch):
    """The three AWS keys in the environment (no _FILE variables, no endpoint)."""
    for name in AWS:
        monkeypatch.delenv(f"{name}_FILE", raising=False)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_REGION",
                 "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in zip(AWS, (ID, SECRET, SESSION)):
        monkeypatch.setenv(name, value)


def test_a_task_holds_its_s3_uri_as_it_is(keys):
    uris = ["s3://photos/cats/a b.png", "s3://photos/dogs/x.png?versionId=1"]
    pool = named_pool(uris)
    check_image_mode(_config(), pool)
    pusher = TaskPusher(_config(), None, None, pool, 7, print)  # type: ignore[arg-type]
    assert [pusher.image_of(i) for i in pool.item_ids] == uris


@pytest.mark.parametrize(("paths", "fragment"), [
    (["s3://b/k.png", "/data/a.png", "/data/b.png"],
     "2 of 3 images are not s3:// URIs, the first /data/a.png; s3-storage signs only images "
     "in S3: use image_mode local-files (with document_root)"),
    (["https://cdn.example/a.png"], "the first https://cdn.example/a.png; s3-storage signs "
                                    "only images in S3: use image_mode url"),
    (["s3://bucket-only"], "s3://bucket-only names a bucket, not an object"),
])
def test_a_pool_of_other_images_is_refused_naming_the_mode_that_fits(paths, fragment):
    with pytest.raises(ConfigError) as err:
        check_image_mode(_config(), named_pool(paths))
    message = str(err.value)
    assert err.value.exit_code == 2 and "\n" not in message
    assert message.startswith("project.yaml: label_studio.image_mode: s3-storage: ")
    assert fragment in message


def test_one_storage_per_bucket_with_the_folder_of_all_its_images(keys, monkeypatch):
    paths = ["s3://photos/pool/cats/a.png", "s3://photos/pool/dogs/b.png",
             "s3://photos/pool/cats/deep/c.png", "s3://other/x.png", "s3://third/p/q.png",
             "s3://third/pq/r.png"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://minio.internal:9000/")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    sources = storage_sources(_config(storage_presign_ttl=30).label_studio, paths)
    assert [(s.bucket, s.prefix, s.region, s.endpoint, s.presign_ttl) for s in sources] == [
        ("other", "", "eu-west-1", "http://minio.internal:9000", 30),
        ("photos", "pool", "eu-west-1", "http://minio.internal:9000", 30),
        ("third", "", "eu-west-1", "http://minio.internal:9000", 30)]  # p/ and pq/: the top
    assert {s.keys for s in sources} == {AwsKeys(ID, SECRET, SESSION)}
    # the project file's settings come first; label-studio hands no keys over
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://s3.internal")
    ls = _config(storage_endpoint="https://s3.example", storage_region="us-west-2",
                 storage_credentials="label-studio").label_studio
    (source,) = storage_sources(ls, paths[:1])
    assert (source.uri, source.region, source.endpoint, source.keys) == \
        ("s3://photos/pool/cats", "us-west-2", "https://s3.example", None)
    assert storage_sources(_config().label_studio, paths[:1])[0].endpoint == "http://s3.internal"


def test_keys_come_from_the_environment_or_files_and_are_never_shown(keys, monkeypatch,
                                                                      tmp_path):
    assert aws_keys() == AwsKeys(ID, SECRET, SESSION)
    assert ID not in repr(aws_keys()) and SECRET not in repr(aws_keys())
    for name, value in zip(AWS, ("AKIAFROMFILE00000001", "secret-from-a-file-01", "")):
        monkeypatch.delenv(name)
        if value:
            (tmp_path / name).write_text(f"\ufeff{value}\n")  # a BOM and a newline: ignored
            monkeypatch.setenv(f"{name}_FILE", str(tmp_path / name))
    assert aws_keys() == AwsKeys("AKIAFROMFILE00000001", "secret-from-a-file-01", "")
    # every one of them is redacted wherever a line shows
    assert redact("id AKIAFROMFILE00000001 secret secret-from-a-file-01") == "id *** secret ***"
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY_FILE")
    with pytest.raises(BackendAuthError) as missing:
        aws_keys()
    assert str(missing.value).startswith(
        "no AWS keys for Label Studio's S3 storage (label_studio.image_mode s3-storage): set "
        "AWS_SECRET_ACCESS_KEY (or AWS_SECRET_ACCESS_KEY_FILE to files holding them), or "
        "label_studio.storage_credentials: label-studio")
    (tmp_path / "bad").write_text("two words")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY_FILE", str(tmp_path / "bad"))
    with pytest.raises(BackendAuthError) as bad:
        aws_keys()
    assert str(bad.value) == (f"AWS_SECRET_ACCESS_KEY_FILE={tmp_path / 'bad'}: the key has "
                              "whitespace or a line break inside; it must hold only the key, "
                              "on one line")


def test_no_keys_are_needed_with_label_studios_own(keys, monkeypatch):
    for name in AWS:
        monkeypatch.delenv(name)
    ls = _config(storage_credentials="label-studio").label_studio
    assert storage_sources(ls, ["s3://b/k.png"])[0].keys is None
    check_image_mode(_config(storage_credentials="label-studio"), named_pool(["s3://b/k.png"]))
    # with the environment's, a round checks first, before it changes anything
    with pytest.raises(BackendAuthError, match="no AWS keys"):
        check_image_mode(_config(), named_pool(["s3://b/k.png"]))
    with pytest.raises(BackendAuthError, match="set AWS_ACCESS_KEY_ID and AWS_SECRET"):
        storage_sources(_config().label_studio, ["s3://b/k.png"])


@pytest.mark.parametrize(("label_studio", "fragment"), [
    ({"storage_endpoint": "minio:9000"}, "label_studio.storage_endpoint: must start with "
                                         "http://, https://"),
    ({"storage_endpoint": "http://key:secret@minio:9000"},
     "label_studio.storage_endpoint: credentials do not belong in the URL"),
    ({"storage_region": "EU West"}, "label_studio.storage_region: an AWS region name"),
    ({"storage_presign_ttl": 10081}, "label_studio.storage_presign_ttl: must be at most 10080"),
    ({"storage_credentials": "file"}, "label_studio.storage_credentials: expected one of "
                                      "environment, label-studio"),
])
def test_the_storage_settings_are_checked_at_load(label_studio, fragment):
    with pytest.raises(ConfigError) as err:
        _config(**label_studio)
    assert fragment in str(err.value) and "secret" not in str(err.value)
