"""label_studio.image_mode url against real servers: an s3:// image presigned for moto's
S3 server (support/storage.py) is fetched by its URL alone, without AWS keys, as an
annotator's browser fetches it; a push hands http(s) URLs over unchanged; and a round of
`cycle` against a real Label Studio puts http images served by http.server into the
tasks by their own URLs."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import torch
from PIL import Image

from activelearn.config import Config, config_from_dict
from activelearn.data.sources.base import Pool
from activelearn.data.uris import presigned_url
from activelearn.kinds import UNKNOWN_LABEL, BatchKind
from activelearn.loop.push import TaskPusher, check_image_mode
from activelearn.state import Store
from support.loop import Project, cycle
from support.project_files import thirteen_image_project

PROJECT_ID = 7


def png(seed: int, size: int = 8) -> bytes:
    """A PNG of random pixels (no two seeds near-duplicates)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def fetch(url: str) -> httpx.Response:
    """GET url as a browser would: no credentials, nothing but the URL."""
    return httpx.get(url, timeout=30)


# ---------------------------------------------------------------- presigning

def test_a_presigned_url_serves_the_object_to_whoever_holds_it(s3_bucket):
    data = png(0)
    uri = s3_bucket.put("photos/cats/a b.png", data)
    url = presigned_url(uri, 600)
    assert url.startswith(f"{s3_bucket.endpoint}/{s3_bucket.name}/photos/cats/a%20b.png?")
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["600"]
    served = fetch(url)
    assert served.status_code == 200
    assert served.content == data
    # a URL for a key that is not there answers 404 (signing does not look)
    missing = fetch(presigned_url(f"s3://{s3_bucket.name}/photos/none.png", 600))
    assert missing.status_code == 404


# ---------------------------------------------------------------- the push

class RecordingBackend:
    """Takes the pushed tasks and records them; each gets a task id. Its own tasks part
    (backend.tasks.keys, backend.tasks.push)."""

    url = "http://label-studio.invalid"

    def __init__(self) -> None:
        self.specs: list = []
        self.tasks = self

    def keys(self, project_id: int) -> dict[str, int]:
        return {}

    def push(self, project_id, specs, chunk, existing) -> dict[str, int]:
        assert project_id == PROJECT_ID
        first = len(self.specs) + 1
        self.specs.extend(specs)
        return {spec.key: first + i for i, spec in enumerate(specs)}


def _url_config() -> Config:
    return config_from_dict(
        {"project": {"name": "t"},
         "data": {"source": "manifest", "root": "images.csv", "image_size": [8, 8]},
         "classes": ["a", "b"], "label_studio": {"image_mode": "url", "presign_expiry": 900}},
        source="project.yaml")


def test_a_push_hands_http_urls_over_unchanged_and_presigns_s3(http_folder, s3_bucket,
                                                                tmp_path):
    (http_folder.root / "cats").mkdir()
    images = {"web": png(1), "web-query": png(2), "bucket": png(3)}
    (http_folder.root / "cats" / "a b.png").write_bytes(images["web"])
    (http_folder.root / "b.png").write_bytes(images["web-query"])
    uris = {"web": f"{http_folder.url}/cats/a%20b.png",
            "web-query": f"{http_folder.url}/b.png?v=2&x=a%2Fb",
            "bucket": s3_bucket.put("p/c.png", images["bucket"])}
    ids = list(uris)
    pool = Pool(item_ids=ids, images=torch.zeros((3, 3, 8, 8), dtype=torch.uint8),
                labels=np.full(3, UNKNOWN_LABEL, dtype=np.int64),
                is_test=np.zeros(3, dtype=bool), class_names=["a", "b"],
                paths=[uris[i] for i in ids])
    cfg = _url_config()
    check_image_mode(cfg, pool)
    backend = RecordingBackend()
    with Store.open(tmp_path / "state.sqlite") as store:
        store.batches.add(0, BatchKind.INITIAL, "random", 0, None, [(i, 0.0) for i in ids])
        TaskPusher(cfg, store, backend, pool, PROJECT_ID, print).push(0)  # type: ignore[arg-type]
        assert set(store.tasks.by_item()) == set(ids)
    pushed = {spec.item_id: spec.image for spec in backend.specs}
    assert pushed["web"] == uris["web"]
    assert pushed["web-query"] == uris["web-query"]
    signed = urlsplit(pushed["bucket"])
    assert f"{signed.scheme}://{signed.netloc}{signed.path}" == \
        f"{s3_bucket.endpoint}/{s3_bucket.name}/p/c.png"
    assert parse_qs(signed.query)["X-Amz-Expires"] == ["900"]
    for item_id, url in pushed.items():
        served = fetch(url)
        assert (served.status_code, served.content) == (200, images[item_id]), item_id


# ---------------------------------------------------------------- a real round

def test_a_round_puts_http_images_into_label_studio_by_their_urls(
        project_file, ls_env, ls_project_title, http_folder, tmp_path):
    # the manifest's path column holds http:// URLs, served from http_folder
    images, rows = {}, ["id,path"]
    for i in range(13):
        name = f"img{i:02d}"
        folder = "red" if i % 2 else "dark"
        (http_folder.root / folder).mkdir(exist_ok=True)
        images[name] = png(100 + i)
        (http_folder.root / folder / f"{name}.png").write_bytes(images[name])
        rows.append(f"{name},{http_folder.url}/{folder}/{name}.png")
    # unlabeled items all stay in the train pool: holdout + initial take all 13
    path = thirteen_image_project(project_file, tmp_path, rows[1:],
                                  project_title=ls_project_title, image_mode="url")

    cycle(path)

    p = Project(path, ls_env)
    tasks = p.tasks()
    assert len(tasks) == 13
    urls = {t.data["item_id"]: t.data["image"] for t in tasks}
    assert urls == {name: f"{http_folder.url}/{'red' if int(name[3:]) % 2 else 'dark'}/"
                          f"{name}.png" for name in images}
    # Label Studio was given no storage: the annotators' browsers fetch the URLs
    assert list(p.backend.client.import_storage.local.list(project=p.project_id)) == []
    for name, url in sorted(urls.items()):
        served = fetch(url)
        assert (served.status_code, served.content) == (200, images[name]), name
