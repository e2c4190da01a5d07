"""bench/RESULTS.md: `make bench` rewrites the figures' table and keeps what was measured by hand
below its mark (the large day's run), so a benchmark run never erases it."""

from __future__ import annotations

from consortium.bench import NOTES_MARK, kept_notes, render_markdown


def test_render_markdown__earlier_notes__table_rewritten_notes_kept_once():
    earlier = render_markdown({"a": 1}, f"{NOTES_MARK}\n## Large day\nwall 3,600 s\n")
    again = render_markdown({"a": 2, "b": "x"}, kept_notes(earlier))
    assert "| `a` | 2 |" in again and "| `a` | 1 |" not in again and "| `b` | x |" in again
    assert again.endswith(f"{NOTES_MARK}\n## Large day\nwall 3,600 s\n")
    assert again.count(NOTES_MARK) == 1
    assert render_markdown({"a": 2}, kept_notes(again)) == render_markdown(
        {"a": 2}, kept_notes(earlier)
    )


def test_kept_notes__no_mark__nothing_kept():
    text = render_markdown({"a": 1})
    assert kept_notes(text) == ""
    assert render_markdown({"a": 1}, kept_notes(text)) == text
