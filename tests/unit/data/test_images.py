"""Reading images: every mode, EXIF orientation, limits, broken files, resizing, many at once.
All on real files written with Pillow (URIs over HTTP and S3: tests/integration)."""

from __future__ import annotations

import importlib
import os
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from activelearn.data import images
from activelearn.data.images import ImageInfo, UnusableImage, decode, decode_many, read_info
from activelearn.errors import ConfigError
from support.threads import within

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def luma(rgb: tuple[int, int, int]) -> float:
    """ITU-R 601-2, what Pillow's RGB -> L gives."""
    return rgb[0] * 0.299 + rgb[1] * 0.587 + rgb[2] * 0.114


def decoded_at(path: Path, channels: int) -> np.ndarray:
    """The image decoded at its own size, as [height, width, channels]."""
    with Image.open(path) as img:
        width, height = img.size
    return decode(str(path), (height, width), channels).transpose(1, 2, 0)


# ---------------------------------------------------------------- modes

def write_l(path: Path) -> None:
    Image.new("L", (4, 2), 100).save(path)


def write_la(path: Path) -> None:
    img = Image.new("LA", (4, 2), (100, 255))
    img.putpixel((0, 0), (0, 0))  # fully transparent black
    img.save(path)


def write_rgb(path: Path) -> None:
    Image.new("RGB", (4, 2), (200, 10, 10)).save(path)


def write_rgba(path: Path) -> None:
    img = Image.new("RGBA", (4, 2), (*RED, 255))
    img.putpixel((0, 0), (0, 0, 0, 0))  # transparent black
    img.putpixel((1, 0), (0, 0, 0, 128))  # half-transparent black
    img.save(path)


def write_p(path: Path, transparent: bool) -> None:
    img = Image.new("P", (4, 2), 1)
    img.putpalette([0, 0, 0, *GREEN] + [0] * (254 * 3))
    img.putpixel((0, 0), 0)
    img.save(path, **({"transparency": 0} if transparent else {}))


def write_cmyk_jpeg(path: Path) -> None:
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(path, quality=95)


SIXTEEN_BIT = np.array([[0, 32768, 65535, 1000]], dtype=np.uint16)


def write_i16(path: Path) -> None:
    Image.fromarray(SIXTEEN_BIT).save(path)  # a 16-bit grey PNG


def write_i16b(path: Path) -> None:
    Image.frombytes("I;16B", (4, 1), SIXTEEN_BIT.astype(">u2").tobytes()).save(path)


def write_i32(path: Path) -> None:
    Image.fromarray(SIXTEEN_BIT.astype(np.int32)).save(path)


def write_f(path: Path) -> None:
    Image.fromarray(np.array([[0.0, 0.5, 1.0, 0.25]], dtype=np.float32)).save(path)


def write_bilevel(path: Path) -> None:
    img = Image.new("1", (4, 2), 1)
    img.putpixel((0, 0), 0)
    img.save(path)


# name, writer, file name, stored mode, {(x, y): the RGB a viewer shows}, tolerance
MODES: list[tuple[str, Callable[[Path], None], str, str, dict, int]] = [
    ("L", write_l, "l.png", "L", {(0, 0): (100,) * 3}, 0),
    ("LA", write_la, "la.png", "LA", {(0, 0): WHITE, (1, 0): (100,) * 3}, 0),
    ("RGB", write_rgb, "rgb.png", "RGB", {(0, 0): (200, 10, 10)}, 0),
    ("RGBA", write_rgba, "rgba.png", "RGBA",
     {(0, 0): WHITE, (1, 0): (127,) * 3, (2, 0): RED}, 1),
    ("P transparent", lambda p: write_p(p, True), "pt.png", "P",
     {(0, 0): WHITE, (1, 0): GREEN}, 0),
    ("P", lambda p: write_p(p, False), "p.png", "P", {(0, 0): (0, 0, 0), (1, 0): GREEN}, 0),
    ("CMYK", write_cmyk_jpeg, "cmyk.jpg", "CMYK", {(8, 8): RED}, 8),
    ("I;16", write_i16, "i16.png", "I;16",
     {(0, 0): (0,) * 3, (1, 0): (128,) * 3, (2, 0): WHITE, (3, 0): (4,) * 3}, 0),
    ("I;16B", write_i16b, "i16b.tif", "I;16B", {(1, 0): (128,) * 3, (2, 0): WHITE}, 0),
    ("I", write_i32, "i32.tif", "I", {(1, 0): (128,) * 3, (2, 0): WHITE}, 0),
    ("F", write_f, "f.tif", "F", {(1, 0): (128,) * 3, (2, 0): WHITE, (3, 0): (64,) * 3}, 0),
    ("1", write_bilevel, "bilevel.png", "1", {(0, 0): (0, 0, 0), (1, 0): WHITE}, 0),
]


@pytest.mark.parametrize("name, write, filename, mode, expected, tolerance", MODES,
                         ids=[m[0] for m in MODES])
def test_every_mode_decodes_to_one_and_three_channels(
    tmp_path, name, write, filename, mode, expected, tolerance
):
    path = tmp_path / filename
    write(path)
    assert read_info(str(path)).mode == mode
    rgb, grey = decoded_at(path, 3), decoded_at(path, 1)
    assert rgb.dtype == np.uint8 and grey.shape == (*rgb.shape[:2], 1)
    for (x, y), want in expected.items():
        np.testing.assert_allclose(rgb[y, x], want, atol=tolerance, err_msg=f"{name} {x},{y}")
        assert abs(float(grey[y, x, 0]) - luma(want)) <= tolerance + 1, (name, x, y)


def test_a_16_bit_image_spans_the_range_instead_of_clipping(tmp_path):
    """A 16-bit ramp 0..65535 comes out as a ramp 0..255, not all white."""
    ramp = np.linspace(0, 65535, 256).astype(np.uint16)[None].repeat(2, axis=0)
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    out = decode(str(tmp_path / "ramp.png"), (2, 256), 1)[0, 0].astype(int)
    assert out[0] == 0 and out[-1] == 255
    assert np.abs(out - np.arange(256)).max() <= 1


# ---------------------------------------------------------------- EXIF orientation

def write_oriented(path: Path, orientation: int, size: tuple[int, int] = (64, 32)) -> None:
    """A blue JPEG of size (width, height) as stored, red in its stored top-left corner,
    with the EXIF orientation a camera writes."""
    img = Image.new("RGB", size, BLUE)
    img.paste(RED, (0, 0, size[0] // 4, size[1] // 4))
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(path, exif=exif, quality=95)


# orientation -> where a viewer shows the stored top-left corner; the shown (width, height)
SHOWN = {1: ("top left", (64, 32)), 3: ("bottom right", (64, 32)),
         6: ("top right", (32, 64)), 8: ("bottom left", (32, 64))}


def corner(image: np.ndarray, where: str) -> np.ndarray:
    """The pixel 2 in from a corner of [channels, h, w]."""
    y = 2 if where.startswith("top") else image.shape[1] - 3
    x = 2 if where.endswith("left") else image.shape[2] - 3
    return image[:, y, x]


@pytest.mark.parametrize("orientation", sorted(SHOWN))
def test_exif_orientation_is_applied(tmp_path, orientation):
    path = tmp_path / f"o{orientation}.jpg"
    write_oriented(path, orientation)
    where, (width, height) = SHOWN[orientation]
    assert read_info(str(path)) == ImageInfo(width, height, "JPEG", "RGB")
    out = decode(str(path), (height, width), 3)
    np.testing.assert_allclose(corner(out, where), RED, atol=12)
    others = {"top left", "top right", "bottom left", "bottom right"} - {where}
    for other in others:
        np.testing.assert_allclose(corner(out, other), BLUE, atol=12)


# ---------------------------------------------------------------- limits

def png_claiming(path: Path, width: int, height: int) -> Path:
    """A small PNG whose header (IHDR) claims width x height pixels."""
    Image.new("L", (8, 8), 50).save(path)
    data = bytearray(path.read_bytes())
    start = 8 + 8  # signature, then the IHDR chunk's length and type
    data[start : start + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12 : start + 13]))
    data[start + 13 : start + 17] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))
    return path


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path):
    bomb = str(png_claiming(tmp_path / "bomb.png", 20000, 20000))
    with pytest.raises(UnusableImage, match=r"^too large: 400,000,000 pixels \(limit "):
        within(lambda: decode(bomb, (64, 64), 3))
    with pytest.raises(UnusableImage, match="too large"):
        read_info(bomb)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_the_pixel_limit_names_width_and_height(tmp_path):
    """Above MAX_PIXELS (Pillow's own guard lies higher) and under a limit passed in."""
    big = str(png_claiming(tmp_path / "big.png", 12000, 9000))
    with pytest.raises(UnusableImage) as err:
        within(lambda: decode(big, (64, 64), 3))
    assert str(err.value) == "too large: 12000 x 9000 pixels (limit 100,000,000)"
    Image.new("RGB", (200, 100)).save(tmp_path / "small.png")
    with pytest.raises(UnusableImage) as err:
        decode(str(tmp_path / "small.png"), (64, 64), 3, max_pixels=10_000)
    assert str(err.value) == "too large: 200 x 100 pixels (limit 10,000)"


def test_a_file_over_the_byte_limit_is_refused(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    size = (tmp_path / "a.png").stat().st_size
    for source in (str(tmp_path / "a.png"), (tmp_path / "a.png").read_bytes()):
        with pytest.raises(UnusableImage) as err:
            decode(source, (8, 8), 3, max_bytes=size - 1)
        assert str(err.value) == f"too large: {size:,} bytes (limit {size - 1:,})"
    assert decode(str(tmp_path / "a.png"), (8, 8), 3, max_bytes=size).shape == (3, 8, 8)


# ---------------------------------------------------------------- broken files

def write_truncated_jpeg(path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


BROKEN = [
    ("truncated.jpg", write_truncated_jpeg, r"^cannot read image: image file is truncated"),
    ("noise.png", lambda p: p.write_bytes(np.random.default_rng(1).bytes(500)),
     r"^not a readable image \(cannot identify the format\)$"),
    ("empty.png", lambda p: p.write_bytes(b""), r"^empty file$"),
    ("folder.png", lambda p: p.mkdir(), r"^not a regular file \(folder\)$"),
    ("missing.png", lambda p: None, r"^file not found$"),
]


@pytest.mark.parametrize("filename, write, reason", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_file_is_unusable_with_the_reason(tmp_path, filename, write, reason):
    path = tmp_path / filename
    write(path)
    with pytest.raises(UnusableImage, match=reason):
        within(lambda: decode(str(path), (16, 16), 3))
    if filename == "truncated.jpg":  # its header is whole: read_info reads no further
        assert read_info(str(path)) == ImageInfo(64, 64, "JPEG", "RGB")
    else:
        with pytest.raises(UnusableImage, match=reason):
            within(lambda: read_info(str(path)))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    for read in (lambda: decode(str(fifo), (8, 8), 3), lambda: read_info(fifo.as_uri())):
        with pytest.raises(UnusableImage, match=r"^not a regular file \(FIFO\)$"):
            within(read, fifo=fifo)


def test_uris_and_bytes_name_the_same_image(tmp_path):
    path = tmp_path / "a b.png"  # a space: percent-encoded in the file:// URI
    Image.new("RGB", (6, 4), (9, 99, 199)).save(path)
    expected = decode(str(path), (4, 6), 3)
    assert path.as_uri().endswith("a%20b.png")
    np.testing.assert_array_equal(decode(path.as_uri(), (4, 6), 3), expected)
    np.testing.assert_array_equal(decode(path.read_bytes(), (4, 6), 3), expected)
    assert expected[:, 0, 0].tolist() == [9, 99, 199]
    with pytest.raises(UnusableImage, match=r"^unsupported URI scheme 'ftp'"):
        decode("ftp://example.org/a.png", (4, 6), 3)


def test_a_missing_s3_package_is_a_config_error(monkeypatch):
    """Without s3fs an s3:// URI says what to install, and decode_many says so before
    reading anything."""
    registry = importlib.import_module("fsspec.registry")  # the module, not its mapping
    monkeypatch.setitem(sys.modules, "s3fs", None)  # import s3fs fails
    monkeypatch.delitem(registry._registry, "s3", raising=False)  # not loaded before
    with pytest.raises(ConfigError, match=r"pip install 'activelearn\[s3\]'"):
        decode("s3://bucket/a.png", (8, 8), 3)
    with pytest.raises(ConfigError, match=r"pip install 'activelearn\[s3\]'"):
        decode_many(["/no/such.png", "s3://bucket/a.png"], (8, 8), 3)


# ---------------------------------------------------------------- size

class DraftSpy:
    """Records JpegImageFile.draft's arguments and calls the real one."""

    def __init__(self, monkeypatch) -> None:
        self.calls: list[tuple[str | None, tuple[int, int] | None]] = []
        real = JpegImagePlugin.JpegImageFile.draft

        def draft(img, mode, size):
            self.calls.append((mode, size))
            return real(img, mode, size)

        monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", draft)


def write_wide_photo(path: Path, size: tuple[int, int] = (3000, 2000)) -> None:
    """A green (width, height) JPEG: red and blue bands at the left and right edges
    (outside the centred square), a white band along the top of that square."""
    width, height = size
    img = Image.new("RGB", size, GREEN)
    img.paste(RED, (0, 0, width // 8, height))
    img.paste(BLUE, (width - width // 8, 0, width, height))
    img.paste(WHITE, ((width - height) // 2, 0, (width + height) // 2, height // 8))
    img.save(path, quality=90)


def test_a_big_jpeg_is_drafted_scaled_and_centre_cropped(tmp_path, monkeypatch):
    write_wide_photo(tmp_path / "wide.jpg")
    spy = DraftSpy(monkeypatch)
    out = decode(str(tmp_path / "wide.jpg"), (64, 64), 3)
    # covering 64 x 64 needs 96 x 64 of the 3000 x 2000: libjpeg decodes it at 1/8
    assert spy.calls == [("RGB", (96, 64))]
    assert out.shape == (3, 64, 64)
    # the centre square: no red or blue band (they were cropped, not squeezed in)...
    for column in (1, 32, 62):
        np.testing.assert_allclose(out[:, 40, column], GREEN, atol=40)
    # ...and its full height: the white band is the top eighth
    np.testing.assert_allclose(out[:, 3, 32], WHITE, atol=40)
    np.testing.assert_allclose(out[:, 12, 32], GREEN, atol=40)


def test_a_jpeg_near_the_target_size_is_not_drafted(tmp_path, monkeypatch):
    write_wide_photo(tmp_path / "small.jpg", (120, 80))
    spy = DraftSpy(monkeypatch)
    assert decode(str(tmp_path / "small.jpg"), (64, 64), 1).shape == (1, 64, 64)
    assert spy.calls == []


def test_a_turned_jpeg_is_drafted_in_its_stored_orientation(tmp_path, monkeypatch):
    write_oriented(tmp_path / "turned.jpg", 6, size=(1200, 800))  # shown 800 x 1200
    spy = DraftSpy(monkeypatch)
    out = decode(str(tmp_path / "turned.jpg"), (48, 32), 3)
    assert spy.calls == [("RGB", (48, 32))]  # stored 1200 x 800: 48 x 32 of it
    np.testing.assert_allclose(corner(out, "top right"), RED, atol=40)
    np.testing.assert_allclose(corner(out, "top left"), BLUE, atol=40)


def test_an_image_of_the_target_size_is_bit_identical(tmp_path):
    pixels = np.random.default_rng(2).integers(0, 256, (28, 28), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "digit.png")
    np.testing.assert_array_equal(decode(str(tmp_path / "digit.png"), (28, 28), 1)[0], pixels)
    rgb = decode(str(tmp_path / "digit.png"), (28, 28), 3)
    assert all((rgb[c] == pixels).all() for c in range(3))


def test_a_non_square_target_keeps_the_aspect(tmp_path):
    """A square image into a wide target: scaled to the width, top and bottom cropped."""
    img = Image.new("RGB", (100, 100), GREEN)
    img.paste(RED, (0, 0, 100, 20))  # a top band: cropped away
    img.save(tmp_path / "square.png")
    out = decode(str(tmp_path / "square.png"), (10, 20), 3)
    assert out.shape == (3, 10, 20)
    np.testing.assert_allclose(out[:, 0, :].T, np.tile(GREEN, (20, 1)), atol=2)


def test_exact_refuses_another_size(tmp_path):
    Image.new("RGB", (12, 10)).save(tmp_path / "a.png")
    with pytest.raises(UnusableImage) as err:
        decode(str(tmp_path / "a.png"), (6, 8), 3, exact=True)
    assert str(err.value) == "size 10x12 (height x width), expected 6x8"
    assert decode(str(tmp_path / "a.png"), (10, 12), 3, exact=True).shape == (3, 10, 12)


# ---------------------------------------------------------------- many

def test_decode_many_in_workers_matches_in_process(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "_BATCH", 3)  # several batches over the two workers
    uris = []
    for i in range(8):
        Image.new("RGB", (20 + i, 16), (30 * i, 10, 200 - 20 * i)).save(tmp_path / f"{i}.png")
        uris.append(str(tmp_path / f"{i}.png"))
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG not really")
    uris[3:3] = [str(tmp_path / "corrupt.png"), str(tmp_path / "missing.png")]
    here, here_reasons = decode_many(uris, (16, 16), 3, workers=0)
    there, there_reasons = decode_many(uris, (16, 16), 3, workers=2)
    np.testing.assert_array_equal(here, there)
    assert here_reasons == there_reasons
    assert here.shape == (10, 3, 16, 16) and here.dtype == np.uint8
    assert [i for i, r in enumerate(here_reasons) if r] == [3, 4]
    assert here_reasons[4] == "file not found"
    assert not here[3].any() and not here[4].any()
    assert here[5, :, 8, 8].tolist() == [90, 10, 140]  # file 3, after the two bad ones
    assert decode_many([], (16, 16), 3, workers=2)[0].shape == (0, 3, 16, 16)
