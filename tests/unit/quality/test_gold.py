"""The gold file: valid CSV and JSON lines give item_id -> class index; every malformed
shape is one ConfigError line that names the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from activelearn.errors import ConfigError
from activelearn.quality.gold import read_gold_file

CLASSES = ["cat", "dog", "bird"]
KNOWN = {"a", "b", "c", "42", "T-shirt/top"}


def test_csv_gives_names_and_indices(tmp_path) -> None:
    path = tmp_path / "gold.csv"
    path.write_text('item_id, label\na,dog\nb,2\nc, cat\n"T-shirt/top",1\na,dog\n')
    assert read_gold_file(path, CLASSES, KNOWN) == {"a": 1, "b": 2, "c": 0, "T-shirt/top": 1}


def test_csv_with_a_byte_order_mark_and_more_columns(tmp_path) -> None:
    path = tmp_path / "gold.csv"
    path.write_bytes("\ufeffnote,item_id,label\nfrom alice,a,bird\n".encode())
    assert read_gold_file(path, CLASSES, KNOWN) == {"a": 2}


@pytest.mark.parametrize("name", ["gold.jsonl", "gold.json"])
def test_json_lines_give_names_and_indices(tmp_path, name) -> None:
    path = tmp_path / name
    path.write_text('{"item_id": "a", "label": "bird"}\n\n{"item_id": 42, "label": 0}\n'
                    '{"item_id": "b", "label": "1", "note": "x"}\n')
    assert read_gold_file(path, CLASSES, KNOWN) == {"a": 2, "42": 0, "b": 1}


def test_a_class_named_like_a_digit_wins_over_the_index(tmp_path) -> None:
    path = tmp_path / "gold.csv"
    path.write_text("item_id,label\na,0\n")
    assert read_gold_file(path, ["1", "0"], KNOWN) == {"a": 1}


MALFORMED = [
    # (id, file name, content, words the message must hold)
    ("not utf-8", "gold.csv", b"item_id,label\na,caf\xe9\n", "not UTF-8 text"),
    ("binary", "gold.jsonl", b"\x00\x01\x02", "not text"),
    ("empty", "gold.csv", b"", "empty"),
    ("blank", "gold.jsonl", b"\n  \n", "empty"),
    ("jsonl not json", "gold.jsonl", b'{"item_id": "a", "label": 0}\n{"item_id": "b",\n',
     "line 2: not JSON"),
    ("json array file", "gold.json", b'[{"item_id": "a", "label": 0}]\n', "line 1"),
    ("jsonl list", "gold.jsonl", b'["a", 0]\n', "line 1: expected a JSON object"),
    ("jsonl string", "gold.jsonl", b'"a"\n', "got text"),
    ("csv without header", "gold.csv", b"a,cat\nb,dog\n", "header must name"),
    ("csv other header", "gold.csv", b"id,class\na,cat\n", "'id', 'class'"),
    ("csv missing label", "gold.csv", b"item_id,label\na\n", "line 2: no label"),
    ("jsonl missing item_id", "gold.jsonl", b'{"label": "cat"}\n', "line 1: no item_id"),
    ("jsonl null label", "gold.jsonl", b'{"item_id": "a", "label": null}\n', "no label"),
    ("csv extra field", "gold.csv", b"item_id,label\na,T-shirt,top\n", "more fields"),
    ("empty item_id", "gold.csv", b"item_id,label\n,cat\n", "line 2: item_id is empty"),
    ("blank item_id", "gold.jsonl", b'{"item_id": "  ", "label": "cat"}\n', "empty"),
    ("item_id list", "gold.jsonl", b'{"item_id": ["a"], "label": "cat"}\n', "a list"),
    ("item_id bool", "gold.jsonl", b'{"item_id": true, "label": "cat"}\n', "a boolean"),
    ("unknown item", "gold.csv", b"item_id,label\na,cat\nzzz,dog\n",
     "line 3: item 'zzz' is not in the pool"),
    ("unknown class", "gold.csv", b"item_id,label\na,horse\n", "'horse' is neither"),
    ("index too big", "gold.csv", b"item_id,label\na,3\n", "(0..2)"),
    ("negative index", "gold.jsonl", b'{"item_id": "a", "label": -1}\n', "neither"),
    ("signed digits", "gold.csv", b"item_id,label\na,+1\n", "neither"),
    ("float text", "gold.csv", b"item_id,label\na,1.0\n", "neither"),
    ("empty label", "gold.csv", b"item_id,label\na,\n", "neither"),
    ("float", "gold.jsonl", b'{"item_id": "a", "label": 1.0}\n', "a number"),
    ("bool", "gold.jsonl", b'{"item_id": "a", "label": true}\n', "a boolean"),
    ("list", "gold.jsonl", b'{"item_id": "a", "label": [1]}\n', "a list"),
    ("object", "gold.jsonl", b'{"item_id": "a", "label": {"k": 1}}\n', "an object"),
    ("two labels", "gold.csv", b"item_id,label\na,cat\nb,dog\na,1\n",
     "line 4: item 'a' has label 'dog' here and 'cat' on line 2"),
]


@pytest.mark.parametrize("name,content,words", [m[1:] for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])
def test_a_malformed_file_is_one_config_error_line(tmp_path, name, content, words) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        read_gold_file(path, CLASSES, KNOWN)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"quality.gold_file {path}: ")
    assert words in message


def test_a_missing_file_or_a_folder_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot read: No such file"):
        read_gold_file(tmp_path / "nope.csv", CLASSES, KNOWN)
    with pytest.raises(ConfigError, match="not a regular file"):
        read_gold_file(Path(tmp_path), CLASSES, KNOWN)
