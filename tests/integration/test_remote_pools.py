"""Pools whose images live on real servers: an imagefolder root that is a folder served by
http.server, one that is a bucket prefix on moto's S3 server, and a manifest of URLs; each
catalogued into a real state file, and re-ingested without reading a file again."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from activelearn.config import DataConfig
from activelearn.data.imageset import as_tensor
from activelearn.data.sources import load_source
from activelearn.data.sources.files import SourceState
from activelearn.state import Store

CLASSES = ["red", "blue"]
COLORS = {"red": (220, 30, 30), "blue": (30, 30, 220)}


def jpeg(color: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="JPEG", quality=95)
    return out.getvalue()


def files() -> dict[str, bytes]:
    found = {f"{name}/{i}.jpg": jpeg(color, (40 + 7 * i, 30 + 3 * i))
             for name, color in COLORS.items() for i in range(3)}
    found["loose.jpg"] = jpeg((128, 128, 128), (50, 50))
    found["red/broken.jpg"] = b"\xff\xd8 not a jpeg"
    return found


def check_pool(pool, expect_ids: list[str]) -> None:
    assert pool.item_ids == expect_ids
    images = as_tensor(pool.images).numpy()
    for i, item_id in enumerate(pool.item_ids):
        if "/" in item_id:  # a class folder: the pixels are its colour (JPEG: nearly)
            color = np.array(COLORS[item_id.split("/")[0]])[:, None, None]
            assert np.abs(images[i].astype(int) - color).max() <= 6, item_id
    assert [s.item_id for s in pool.skipped] == ["red/broken.jpg"]


EXPECT = ["blue/0.jpg", "blue/1.jpg", "blue/2.jpg", "loose.jpg", "red/0.jpg", "red/1.jpg",
          "red/2.jpg"]


def test_imagefolder_over_http(http_folder, tmp_path):
    for name, data in files().items():
        (http_folder.root / name).parent.mkdir(parents=True, exist_ok=True)
        (http_folder.root / name).write_bytes(data)
    cfg = DataConfig("imagefolder", root=http_folder.url + "/")
    with Store.open(tmp_path / "state.sqlite") as store:
        state = SourceState(store.catalogue, tmp_path / "cache")
        pool = load_source(cfg, CLASSES, (16, 16), state)
        check_pool(pool, EXPECT)
        assert pool.paths[0] == f"{http_folder.url}/blue/0.jpg"
        again = load_source(cfg, CLASSES, (16, 16), state)
        assert again.notes[0].startswith("catalogue: 8 files listed, 0 read")


def test_imagefolder_over_s3_with_the_cache(s3_bucket, tmp_path):
    for name, data in files().items():
        s3_bucket.put(f"photos/{name}", data)
    cfg = DataConfig("imagefolder", root=f"s3://{s3_bucket.name}/photos", cache="memmap")
    with Store.open(tmp_path / "state.sqlite") as store:
        state = SourceState(store.catalogue, tmp_path / "cache")
        pool = load_source(cfg, CLASSES, (16, 16), state)
        check_pool(pool, EXPECT)
        assert pool.images.cached.all()
        assert pool.paths[0] == f"s3://{s3_bucket.name}/photos/blue/0.jpg"
        # a changed object (new ETag) is read again, and only it
        s3_bucket.put("photos/red/1.jpg", jpeg(COLORS["blue"], (40, 40)))
        again = load_source(cfg, CLASSES, (16, 16), state)
        assert again.notes[0].startswith("catalogue: 8 files listed, 1 read")
        changed = as_tensor(again.images)[again.item_ids.index("red/1.jpg")].numpy()
        assert np.abs(changed.astype(int) - np.array(COLORS["blue"])[:, None, None]).max() <= 6


def test_manifest_of_urls(http_folder, tmp_path):
    for name, data in files().items():
        (http_folder.root / name).parent.mkdir(parents=True, exist_ok=True)
        (http_folder.root / name).write_bytes(data)
    rows = ["id,path,label"] + [f"{name},{http_folder.url}/{name},{name.split('/')[0]}"
                                for name in files() if "/" in name]
    manifest = tmp_path / "m.csv"
    manifest.write_text("\n".join(rows) + "\n")
    pool = load_source(DataConfig("manifest", root=str(manifest)), CLASSES, (16, 16))
    check_pool(pool, [i for i in EXPECT if "/" in i])
