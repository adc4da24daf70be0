"""Where a Label Studio task finds its image: data URIs, Local Files URLs, URL templates,
http(s) URLs as they are."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from activelearn.annotation.label_studio import image_data_uri, image_reference


@pytest.mark.parametrize("channels", [1, 3])
def test_image_data_uri_round_trips_the_pixels(channels):
    image = np.random.default_rng(0).integers(0, 256, (channels, 5, 7), dtype=np.uint8)
    uri = image_data_uri(image)
    assert uri.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    expected = image[0] if channels == 1 else image.transpose(1, 2, 0)
    np.testing.assert_array_equal(decoded, expected)


def test_image_data_uri_refuses_other_arrays():
    with pytest.raises(ValueError, match="uint8"):
        image_data_uri(np.zeros((1, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\[2, 4, 4\]"):
        image_data_uri(np.zeros((2, 4, 4), dtype=np.uint8))


def test_image_reference_modes(tmp_path):
    path = tmp_path / "imgs" / "a b.png"
    ref = image_reference("local-files", "x", str(path), document_root=str(tmp_path))
    assert ref == "/data/local-files/?d=imgs/a%20b.png"
    with pytest.raises(ValueError, match="outside document_root"):
        image_reference("local-files", "x", "/elsewhere/a.png", document_root=str(tmp_path))
    assert image_reference("url-template", "id/1", "d/a.png",
                           url_template="https://s3/{path}?id={item_id}") == \
        "https://s3/d/a.png?id=id%2F1"


def test_image_reference_url_mode_gives_an_http_url_as_it_is():
    # a presigned URL's query (signature, expiry) must reach Label Studio untouched
    signed = ("https://b.s3.amazonaws.com/cats/a%20b.png?X-Amz-Expires=600&"
              "X-Amz-Signature=ab%2Fcd")
    for url in ("http://127.0.0.1:8000/cats/a.png", signed, "HTTPS://h/x.png"):
        assert image_reference("url", "x", url) == url
    for uri in ("s3://bucket/a.png", "/srv/a.png", "file:///srv/a.png", ""):
        with pytest.raises(ValueError, match=r"^item x: url needs an http\(s\) URL"):
            image_reference("url", "x", uri)
