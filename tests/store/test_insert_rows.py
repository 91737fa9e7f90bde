"""Bulk inserts: many rows per statement store exactly what one statement per row stores."""

from __future__ import annotations

import pytest

from threadline.store import Store

_INSERT = (
    "INSERT INTO master_data (type, id, attributes, children) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (type, id) DO NOTHING"
)


@pytest.mark.parametrize("count", [0, 1, 2, 3, 127, 128, 129, 300])
def test_every_row_is_stored_once_in_order(store: Store, count: int) -> None:
    rows = [("bulk", f"id-{i:04d}", f'{{"n": {i}}}', None) for i in range(count)]
    with store.writer() as writer:
        values = f"VALUES (?, ?, {store.json_param()}, ?)"
        sql = store.sql(_INSERT.replace("VALUES (?, ?, ?, ?)", values))
        store.insert_rows(writer.cursor, sql, rows)
        got = writer.query(
            "SELECT id, attributes FROM master_data WHERE type = ? ORDER BY id", ("bulk",)
        )
    assert [r[0] for r in got] == [f"id-{i:04d}" for i in range(count)]
    assert [store.load_json(r[1]) for r in got] == [{"n": i} for i in range(count)]


def test_conflict_clauses_still_apply_within_one_statement(store: Store) -> None:
    rows = [
        ("bulk", "same", None, None),
        ("bulk", "same", None, None),
        ("bulk", "other", None, None),
    ]
    with store.writer() as writer:
        store.insert_rows(writer.cursor, store.sql(_INSERT), rows)
        got = writer.query("SELECT count(*) FROM master_data WHERE type = ?", ("bulk",))
    assert got[0][0] == 2


def test_a_statement_that_is_not_a_values_insert_is_refused() -> None:
    from threadline.store.sqlite import _multi_row

    with pytest.raises(ValueError, match="not a single-row INSERT"):
        _multi_row("UPDATE objects SET attrs = ? WHERE id = ?", 4)
