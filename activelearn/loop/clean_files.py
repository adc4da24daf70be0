"""The files `activelearn clean` writes beside the state (the report writes them too):
duplicates.csv, a row per member of each duplicate group, and skipped.csv, the images
the source could not use."""

from __future__ import annotations

from pathlib import Path

from activelearn.files import write_csv
from activelearn.state import DuplicateGroup


def write_duplicate_csvs(out_dir: Path, groups: list[DuplicateGroup],
                         skipped: list[tuple[str, str, str]]) -> list[Path]:
    """duplicates.csv (a row per member of store.duplicates.groups()) and skipped.csv
    (store.duplicates.skipped()): written by `activelearn clean` and by the report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(out_dir / "duplicates.csv", [
        ["group_id", "kind", "item_id", "representative", "split", "path"],
        *[[g.group_id, g.kind, item_id, int(item_id == g.representative), split, path or ""]
          for g in groups for item_id, path, split in g.members]])
    write_csv(out_dir / "skipped.csv", [["item_id", "path", "reason"], *skipped])
    return [out_dir / "duplicates.csv", out_dir / "skipped.csv"]
