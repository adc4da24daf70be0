"""Images read over real servers: a folder served by http.server on loopback, and a bucket
on moto's S3-compatible server reached through AWS_ENDPOINT_URL (support/storage.py)."""

from __future__ import annotations

import io
import socket

import numpy as np
import pytest
from PIL import Image

from activelearn.data import remote
from activelearn.data.images import ImageInfo, UnusableImage, decode, decode_many, read_info

COLOR = (200, 40, 90)


def png(size: tuple[int, int] = (30, 20), color: tuple[int, int, int] = COLOR) -> bytes:
    """A solid PNG of size (width, height)."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def assert_solid(image: np.ndarray, color: tuple[int, ...]) -> None:
    assert (image == np.array(color, dtype=np.uint8)[:, None, None]).all()


# ---------------------------------------------------------------- http

def test_decode_and_read_info_over_http(http_folder):
    (http_folder.root / "cats").mkdir()
    (http_folder.root / "cats" / "a.png").write_bytes(png())
    url = f"{http_folder.url}/cats/a.png"
    assert read_info(url) == ImageInfo(30, 20, "PNG", "RGB")
    out = decode(url, (16, 16), 3)
    assert out.shape == (3, 16, 16)
    assert_solid(out, COLOR)


def test_http_failures_are_unusable_images(http_folder, monkeypatch):
    (http_folder.root / "noise.png").write_bytes(b"not an image at all")
    free = socket.socket()
    free.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    refused = f"http://127.0.0.1:{free.getsockname()[1]}/a.png"
    expected = {
        f"{http_folder.url}/missing.png": "not found (HTTP 404)",
        f"{http_folder.url}/_status/500": "HTTP 500 Internal Server Error",
        f"{http_folder.url}/noise.png": "not a readable image (cannot identify the format)",
    }
    with free:
        for url, reason in expected.items():
            with pytest.raises(UnusableImage) as err:
                decode(url, (8, 8), 3)
            assert str(err.value) == reason, url
        with pytest.raises(UnusableImage, match=r"^cannot connect: "):
            read_info(refused)
    monkeypatch.setattr(remote, "READ_TIMEOUT_S", 0.5)
    with pytest.raises(UnusableImage, match=r"^timed out$"):
        decode(f"{http_folder.url}/_hang", (8, 8), 3)


def test_decode_many_mixes_http_and_local_files(http_folder, tmp_path):
    (http_folder.root / "a.png").write_bytes(png(color=(1, 2, 3)))
    (tmp_path / "b.png").write_bytes(png(color=(4, 5, 6)))
    sources = [f"{http_folder.url}/a.png", str(tmp_path / "b.png"),
               f"{http_folder.url}/gone.png", (tmp_path / "b.png").as_uri()]
    images, reasons = decode_many(sources, (10, 10), 3, workers=2)
    assert reasons == [None, None, "not found (HTTP 404)", None]
    assert_solid(images[0], (1, 2, 3))
    assert_solid(images[1], (4, 5, 6))
    assert not images[2].any()
    np.testing.assert_array_equal(images[3], images[1])


# ---------------------------------------------------------------- s3

def test_decode_and_read_info_from_s3(s3_bucket):
    uri = s3_bucket.put("photos/cats/a.png", png((40, 24)))
    assert read_info(uri) == ImageInfo(40, 24, "PNG", "RGB")
    out = decode(uri, (24, 24), 1)
    assert out.shape == (1, 24, 24)
    assert abs(int(out[0, 12, 12]) - round(COLOR[0] * 0.299 + COLOR[1] * 0.587
                                            + COLOR[2] * 0.114)) <= 1


def test_s3_failures_are_unusable_images(s3_bucket):
    s3_bucket.put("empty.png", b"")
    expected = {
        f"s3://{s3_bucket.name}/missing.png": "not found",
        f"s3://{s3_bucket.name}-nonexistent/a.png": "no such bucket",
        f"s3://{s3_bucket.name}/empty.png": "empty file",
    }
    for uri, reason in expected.items():
        with pytest.raises(UnusableImage) as err:
            decode(uri, (8, 8), 3)
        assert str(err.value) == reason, uri
    with pytest.raises(UnusableImage) as err:
        read_info(f"s3://{s3_bucket.name}/missing.png")
    assert str(err.value) == "not found"


def test_decode_many_from_s3_in_workers(s3_bucket):
    keys = [s3_bucket.put(f"p/{i}.png", png(color=(i, 2 * i, 3 * i))) for i in range(5)]
    images, reasons = decode_many([*keys, f"s3://{s3_bucket.name}/p/none.png"], (8, 8), 3,
                                  workers=2)
    assert reasons == [None] * 5 + ["not found"]
    for i in range(5):
        assert_solid(images[i], (i, 2 * i, 3 * i))
