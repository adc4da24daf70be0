"""image_mode local-files against a real Label Studio server: the folders connected as
Local Files storages are the narrowest ones holding the pool's files (symlinks
followed), and the server serves every task's image."""

from __future__ import annotations

import httpx
import numpy as np
from PIL import Image

from support.loop import Project, cycle
from support.project_files import thirteen_image_project


def test_storages_are_the_image_folders_and_every_task_image_is_served(
        project_file, ls_env, ls_project_title, tmp_path):
    # The test server serves files_root: two sibling folders of images there, and a
    # symlink in a third folder to an image of the first (not otherwise in the pool).
    base = ls_env.files_root / f"local-{ls_project_title}"
    rng = np.random.default_rng(0)
    for folder in ("red", "dark", "links"):
        (base / folder).mkdir(parents=True)
    rows = ["id,path"]
    for i in range(12):  # random pixels: no two images are near-duplicates
        path = base / ("red" if i % 2 else "dark") / f"img{i:02d}.png"
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(path)
        rows.append(f"img{i:02d},{path}")
    target = base / "red" / "target.png"
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(target)
    (base / "links" / "linked.png").symlink_to(target)
    rows.append(f"linked,{base / 'links' / 'linked.png'}")
    # unlabeled items all stay in the train pool: holdout + initial take all 13
    path = thirteen_image_project(project_file, tmp_path, rows[1:],
                                  project_title=ls_project_title, image_mode="local-files",
                                  document_root=str(ls_env.files_root))

    cycle(path)

    p = Project(path, ls_env)
    storages = list(p.backend.client.import_storage.local.list(project=p.project_id))
    assert sorted(s.path for s in storages) == sorted([str(base / "dark"), str(base / "red")])
    tasks = p.tasks()
    assert len(tasks) == 13
    images = {t.data["item_id"]: t.data["image"] for t in tasks}
    assert images["linked"] == f"/data/local-files/?d=local-{ls_project_title}/red/target.png"
    with httpx.Client(base_url=ls_env.url, timeout=30,
                      headers={"Authorization": f"Token {ls_env.token}"}) as client:
        for item_id, image in sorted(images.items()):
            served = client.get(image)
            assert served.status_code == 200, (item_id, image, served.status_code)
            assert served.content[:4] == b"\x89PNG", (item_id, image)
