"""Where a Label Studio task finds its image (label_studio.image_mode): the pixels as a
data URI, a file Label Studio serves from a Local Files storage, or a URL."""

from __future__ import annotations

import base64
import io
import os
from urllib.parse import quote

import numpy as np
from PIL import Image

LOCAL_FILES_URL = "/data/local-files/?d="  # + the file's path under the document root


def image_data_uri(image: np.ndarray) -> str:
    """A PNG data URI of one image: [channels, height, width] uint8, channels 1 or 3."""
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[0] not in (1, 3):
        raise ValueError(f"expected [1 or 3, height, width] uint8, got {array.dtype} "
                         f"{list(array.shape)}")
    pixels = array[0] if array.shape[0] == 1 else np.ascontiguousarray(array.transpose(1, 2, 0))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_reference(mode: str, item_id: str, path: str = "", image: np.ndarray | None = None,
                    document_root: str = "", url_template: str = "") -> str:
    """Where a task finds its image, by LabelStudioConfig.image_mode: data-uri (needs
    image), local-files (needs path under document_root, symlinks followed),
    url-template, url (path: an http(s) URL, as is; the caller presigns s3:// URIs)."""
    if mode == "data-uri":
        if image is None:
            raise ValueError(f"item {item_id}: data-uri needs the image's pixels")
        return image_data_uri(image)
    if mode == "local-files":
        relative = local_files_relative(os.path.realpath(path), os.path.realpath(document_root))
        if relative is None:
            raise ValueError(f"item {item_id}: {path} is outside document_root {document_root}")
        return local_files_url(relative)
    if mode == "url-template":
        return url_template.format(item_id=quote(item_id, safe=""), path=quote(path))
    if mode == "url":
        if not path.lower().startswith(("http://", "https://")):
            raise ValueError(f"item {item_id}: url needs an http(s) URL, got {path!r}")
        return path
    raise ValueError(f"unknown image mode {mode!r}")


def local_files_relative(real_path: str, real_root: str) -> str | None:
    """The path of a file under the document root, or None when it is not inside it.
    Both are resolved (os.path.realpath: absolute, normalised, symlinks followed), as
    Label Studio opens the file; on such paths a prefix test that ends in a separator
    is an exact containment test (and "/" holds everything), at a fraction of the cost
    of os.path.commonpath over a pool of 200,000 files."""
    prefix = real_root if real_root.endswith(os.sep) else real_root + os.sep
    if not real_path.startswith(prefix) or len(real_path) == len(prefix):
        return None
    return real_path[len(prefix):]


def local_files_url(relative: str) -> str:
    """The task URL of a file Label Studio serves from a Local Files storage; relative:
    its path under the document root (local_files_relative)."""
    return LOCAL_FILES_URL + quote(relative)
