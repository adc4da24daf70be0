"""The label_studio: section of the project file (merge into test_config.py at will)."""

from __future__ import annotations

import pytest

from activelearn.config import FASHION_MNIST_CLASSES, config_from_dict
from activelearn.errors import ConfigError


def raw(**label_studio):
    return {"project": {"name": "p"}, "data": {"source": "fashion-mnist"},
            "classes": list(FASHION_MNIST_CLASSES), "label_studio": label_studio}


def test_url_defaults_to_the_environment(monkeypatch):
    monkeypatch.setenv("ACTIVELEARN_LS_URL", "http://ls.example:8080")
    assert config_from_dict(raw()).label_studio.url == "http://ls.example:8080"
    assert config_from_dict(raw(url="http://other")).label_studio.url == "http://other"


@pytest.mark.parametrize("section, message", [
    ({"token": "secret"}, "label_studio.token: unknown key"),
    ({"image_mode": "url-template"}, "label_studio.url_template: needed"),
    ({"image_mode": "local-files"}, "label_studio.document_root: needed"),
    ({"image_mode": "s3"}, "label_studio.image_mode: expected one of"),
    ({"import_chunk": 0}, "label_studio.import_chunk: must be positive"),
    ({"holdout": -1}, "label_studio.holdout: must be 0 or more"),
])
def test_bad_label_studio_sections_are_one_line_errors(section, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(raw(**section))


def test_show_predictions_defaults_to_true_and_takes_only_a_bool():
    assert config_from_dict(raw()).label_studio.show_predictions is True
    assert config_from_dict(raw(show_predictions=False)).label_studio.show_predictions is False
    with pytest.raises(ConfigError, match="label_studio.show_predictions: expected true or "
                                          'false, got "no"'):
        config_from_dict(raw(show_predictions="no"))
