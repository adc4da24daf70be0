"""Label Studio: the backend (client.py, the only module that imports the SDK, composing
the calls of projects.py, tasks.py and annotations.py, the bot's annotators.py and the
service's integrations.py), its formats, where a task's image lives, where the API token
comes from (and the AWS keys an S3 storage is given), and a local server.

The formats, images and token are importable from here without the SDK; the backend is
`label_studio.client.LabelStudioBackend` (activelearn.project builds it).
"""

from activelearn.annotation.label_studio.formats import (
    CHOICES_TAG,
    IMAGE_TAG,
    choice_result,
    config_classes,
    label_config,
    task_item_id,
)
from activelearn.annotation.label_studio.images import (
    image_data_uri,
    image_reference,
    local_files_relative,
    local_files_url,
)
from activelearn.annotation.label_studio.token import (
    TOKEN_ENV,
    TOKEN_FILE_ENV,
    api_token,
    aws_keys,
)

__all__ = [
    "CHOICES_TAG",
    "IMAGE_TAG",
    "TOKEN_ENV",
    "TOKEN_FILE_ENV",
    "api_token",
    "aws_keys",
    "choice_result",
    "config_classes",
    "image_data_uri",
    "image_reference",
    "label_config",
    "local_files_relative",
    "local_files_url",
    "task_item_id",
]
