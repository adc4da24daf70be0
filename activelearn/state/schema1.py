"""Schema 1 as its last release left it, frozen: the starting point of migrations.py.

Releases of schema 1 created missing tables on every open (`CREATE TABLE IF NOT EXISTS`)
and added two columns later (ALTER TABLE ... ADD COLUMN), so a schema-1 state may lack
any table below that came after its release, tasks.is_open and locks.started. Never
edit this text: a new layout is a new step in migrations.py.
"""

SCHEMA_1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY, idx INTEGER NOT NULL, path TEXT, split TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS labels (
    item_id TEXT PRIMARY KEY REFERENCES items(item_id), label INTEGER NOT NULL,
    source TEXT NOT NULL, round INTEGER NOT NULL, annotator TEXT, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS label_history (
    id INTEGER PRIMARY KEY, item_id TEXT NOT NULL, label INTEGER NOT NULL,
    previous INTEGER, source TEXT NOT NULL, round INTEGER NOT NULL, annotator TEXT,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rounds (
    round INTEGER PRIMARY KEY, status TEXT NOT NULL, phase TEXT, model_version TEXT,
    labels INTEGER, started_at REAL NOT NULL, finished_at REAL, error TEXT);
CREATE TABLE IF NOT EXISTS phases (
    round INTEGER NOT NULL, phase TEXT NOT NULL, status TEXT NOT NULL, at REAL NOT NULL,
    detail TEXT);
CREATE TABLE IF NOT EXISTS batches (
    batch_id INTEGER PRIMARY KEY, round INTEGER NOT NULL, kind TEXT NOT NULL,
    strategy TEXT NOT NULL, seed INTEGER, model_version TEXT, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS batch_items (
    batch_id INTEGER NOT NULL REFERENCES batches(batch_id), item_id TEXT NOT NULL,
    rank INTEGER NOT NULL, score REAL, PRIMARY KEY (batch_id, item_id));
CREATE INDEX IF NOT EXISTS batch_items_item ON batch_items(item_id);
CREATE TABLE IF NOT EXISTS metrics (
    round INTEGER NOT NULL, split TEXT NOT NULL, model_version TEXT, payload TEXT NOT NULL,
    PRIMARY KEY (round, split));
CREATE TABLE IF NOT EXISTS suggestions (
    batch_id INTEGER NOT NULL, item_id TEXT NOT NULL, label INTEGER NOT NULL,
    confidence REAL NOT NULL, PRIMARY KEY (batch_id, item_id));
CREATE TABLE IF NOT EXISTS tasks (
    item_id TEXT PRIMARY KEY, task_id INTEGER NOT NULL, batch_id INTEGER NOT NULL,
    round INTEGER NOT NULL, pushed_at REAL NOT NULL, deleted_at REAL, is_open INTEGER);
CREATE TABLE IF NOT EXISTS annotations (
    annotation_id INTEGER PRIMARY KEY, task_id INTEGER NOT NULL, item_id TEXT NOT NULL,
    label INTEGER NOT NULL, annotator TEXT, lead_time REAL, updated_at TEXT NOT NULL,
    round INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS annotations_item ON annotations(item_id);
CREATE TABLE IF NOT EXISTS disagreements (
    item_id TEXT PRIMARY KEY, votes TEXT NOT NULL, label INTEGER, round INTEGER NOT NULL,
    at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS problems (
    task_id INTEGER NOT NULL, item_id TEXT, annotation_id INTEGER NOT NULL, reason TEXT NOT NULL,
    round INTEGER NOT NULL, at REAL NOT NULL, PRIMARY KEY (task_id, annotation_id, reason));
CREATE TABLE IF NOT EXISTS locks (
    name TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,
    acquired_at REAL NOT NULL, heartbeat REAL NOT NULL);
CREATE TABLE IF NOT EXISTS duplicate_pairs (
    first TEXT NOT NULL, second TEXT NOT NULL, kind TEXT NOT NULL, similarity REAL NOT NULL,
    PRIMARY KEY (first, second));
CREATE TABLE IF NOT EXISTS duplicate_groups (
    group_id INTEGER PRIMARY KEY, representative TEXT NOT NULL, kind TEXT NOT NULL,
    found_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS duplicate_members (
    item_id TEXT PRIMARY KEY, group_id INTEGER NOT NULL REFERENCES duplicate_groups(group_id));
CREATE TABLE IF NOT EXISTS skipped_items (
    item_id TEXT PRIMARY KEY, path TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gold (
    item_id TEXT PRIMARY KEY, label INTEGER NOT NULL, added_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS relabel_requests (
    item_id TEXT NOT NULL, task_id INTEGER NOT NULL, round INTEGER NOT NULL,
    annotations INTEGER NOT NULL, overlap INTEGER NOT NULL, requested_at REAL NOT NULL,
    applied_at REAL, PRIMARY KEY (item_id, overlap));
CREATE TABLE IF NOT EXISTS review_tasks (
    item_id TEXT NOT NULL, round INTEGER NOT NULL, task_id INTEGER, state TEXT NOT NULL,
    label INTEGER NOT NULL, suggestion INTEGER NOT NULL, score REAL NOT NULL,
    confidence REAL NOT NULL, answer INTEGER, created_at REAL NOT NULL,
    PRIMARY KEY (item_id, round));
CREATE INDEX IF NOT EXISTS review_tasks_task ON review_tasks(task_id);
CREATE TABLE IF NOT EXISTS catalogue (
    item_id TEXT PRIMARY KEY, uri TEXT NOT NULL, bytes INTEGER NOT NULL,
    version TEXT NOT NULL, label INTEGER NOT NULL, is_test INTEGER NOT NULL,
    width INTEGER, height INTEGER, format TEXT, mode TEXT, reason TEXT, sha256 TEXT,
    dhash INTEGER, slot INTEGER NOT NULL, cached INTEGER NOT NULL DEFAULT 0);
"""

# (table, column, type) added to schema 1 after its tables were first released
SCHEMA_1_ADDED_COLUMNS = (
    ("tasks", "is_open", "INTEGER"),  # 1/0: Label Studio serves it still (NULL: not known)
    ("locks", "started", "REAL"),  # the holder process's start time (NULL: not known)
)
