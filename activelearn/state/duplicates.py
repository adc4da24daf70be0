"""Duplicate groups in the state store: the pairs `activelearn clean` found, their groups
with a representative, and the images the source could not read (`store.duplicates`);
the detection is in activelearn.data.duplicates, the command in activelearn.loop.clean.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from activelearn.state.schema import Table

CLEANED_META = "cleaned_items"  # meta key: the pool's item count at the last clean
DUPLICATE_SOURCE = "duplicate-of:"  # label source prefix of labels propagated in a group


@dataclass(frozen=True)
class DuplicateGroup:
    """A group of duplicate items: representative is the one that may be selected;
    kind is "exact", "near" or "mixed"; members: (item_id, path, split), representative
    first."""

    group_id: int
    representative: str
    kind: str
    members: list[tuple[str, str | None, str]]

    @property
    def leaks(self) -> bool:
        """Pool items here duplicate an evaluation item (holdout, validation, test)."""
        splits = {s for _, _, s in self.members}
        return "train" in splits and len(splits) > 1


class DuplicateTable(Table):
    """The duplicate_pairs, duplicate_groups, duplicate_members and skipped_items tables."""

    def replace(self, pairs: list[tuple[str, str, str, float]],
                groups: list[tuple[str, str, list[str]]],
                skipped: list[tuple[str, str, str]]) -> None:
        """Replace the last clean's results in one transaction. pairs: (item, item, kind,
        similarity); groups: (representative, kind, member ids); skipped: (item_id, path,
        reason)."""
        now = time.time()
        with self.db:
            for table in ("duplicate_pairs", "duplicate_members", "duplicate_groups",
                          "skipped_items"):
                self.db.execute(f"DELETE FROM {table}")
            self.db.executemany("INSERT OR REPLACE INTO duplicate_pairs VALUES (?, ?, ?, ?)",
                                pairs)
            for group_id, (rep, kind, members) in enumerate(groups, start=1):
                self.db.execute("INSERT INTO duplicate_groups VALUES (?, ?, ?, ?)",
                                (group_id, rep, kind, now))
                self.db.executemany("INSERT OR REPLACE INTO duplicate_members VALUES (?, ?)",
                                    [(m, group_id) for m in members])
            self.db.executemany("INSERT OR REPLACE INTO skipped_items VALUES (?, ?, ?)",
                                skipped)

    def groups(self) -> list[DuplicateGroup]:
        """Every group with its members' paths and current splits."""
        found: dict[int, DuplicateGroup] = {}
        for gid, rep, kind, item_id, path, split in self.db.execute(
                "SELECT g.group_id, g.representative, g.kind, m.item_id, i.path, i.split"
                " FROM duplicate_groups g JOIN duplicate_members m USING (group_id)"
                " LEFT JOIN items i USING (item_id)"
                " ORDER BY g.group_id, m.item_id != g.representative, m.item_id"):
            group = found.setdefault(gid, DuplicateGroup(gid, rep, kind, []))
            group.members.append((item_id, path, split or "?"))
        return list(found.values())

    def pair_counts(self) -> dict[str, int]:
        """Pairs by kind ("exact", "near") and "leakage": pairs of a pool item with an
        evaluation item."""
        counts = dict(self.db.execute("SELECT kind, COUNT(*) FROM duplicate_pairs GROUP BY kind"))
        counts["leakage"] = self.db.execute(
            "SELECT COUNT(*) FROM duplicate_pairs p JOIN items a ON a.item_id = p.first"
            " JOIN items b ON b.item_id = p.second WHERE (a.split = 'train') !="
            " (b.split = 'train')").fetchone()[0]
        return counts

    def skipped(self) -> list[tuple[str, str, str]]:
        """(item_id, path, reason) of the images the source could not use."""
        return list(self.db.execute("SELECT item_id, path, reason FROM skipped_items"
                                    " ORDER BY item_id"))

    def blocked(self) -> set[str]:
        """Items that may not be selected: every group member but the representative; the
        whole group when one member is batched, labelled or tasked (so two members are
        never pushed) or when a member is an evaluation item (leakage)."""
        return {r[0] for r in self.db.execute(
            "SELECT m.item_id FROM duplicate_members m JOIN duplicate_groups g USING"
            " (group_id) WHERE m.item_id != g.representative OR m.group_id IN ("
            "  SELECT d.group_id FROM duplicate_members d WHERE d.item_id IN ("
            "   SELECT item_id FROM batch_items UNION SELECT item_id FROM labels"
            "   UNION SELECT item_id FROM tasks UNION SELECT item_id FROM items"
            "   WHERE split != 'train'))")}

    def evaluation_copies(self) -> set[str]:
        """Train items in a duplicate group with a holdout, validation or test item:
        copies of evaluation images, never trained on, not even unlabelled."""
        return {r[0] for r in self.db.execute(
            "SELECT m.item_id FROM duplicate_members m JOIN items i USING (item_id)"
            " WHERE i.split = 'train' AND m.group_id IN ("
            "  SELECT d.group_id FROM duplicate_members d JOIN items e USING (item_id)"
            "  WHERE e.split != 'train')")}

    def propagation_targets(self) -> list[tuple[str, str, int]]:
        """(representative, member, label) for pool members of a group whose
        representative has a label they lack: no label yet, or a different one that was
        itself propagated."""
        return list(self.db.execute(
            "SELECT g.representative, m.item_id, r.label FROM duplicate_groups g"
            " JOIN duplicate_members m USING (group_id)"
            " JOIN labels r ON r.item_id = g.representative"
            " JOIN items i ON i.item_id = m.item_id"
            " LEFT JOIN labels l ON l.item_id = m.item_id"
            " WHERE m.item_id != g.representative AND i.split = 'train' AND"
            " (l.item_id IS NULL OR (l.label != r.label AND l.source LIKE ?))",
            (DUPLICATE_SOURCE + "%",)))
