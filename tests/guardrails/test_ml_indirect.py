"""Indirect-injection training rows: insertion, the built rows, and row-level labels."""

from __future__ import annotations

from collections import Counter

from workbench.guardrails.ml import data
from workbench.guardrails.ml.indirect import attacks, build_rows, insert
from workbench.guardrails.ml.train_data import _row_labels, cut

SEED = 20240611


def test_insert_known_answers() -> None:
    ctx = "Hello Ann,\nthe invoice is attached.\nBest, Bob"
    text, span = insert(ctx, "DO X", "start")
    assert text == "DO X\n" + ctx and span == (0, 4)
    text, span = insert(ctx, "DO X", "end")
    assert text == ctx + "\nDO X" and text[span[0] : span[1]] == "DO X"
    text, span = insert(ctx, "DO X", "middle")
    assert text == "Hello Ann,\nDO X\n\nthe invoice is attached.\nBest, Bob"  # nearest break
    assert text[span[0] : span[1]] == "DO X"
    text, span = insert("one two three four", "DO X", "middle")  # no line break: a space
    assert text == "one two\nDO X\n three four" and text[span[0] : span[1]] == "DO X"


def test_build_rows_known_counts_and_spans() -> None:
    rows = build_rows(SEED)
    assert rows == build_rows(SEED)  # deterministic
    pos = [r for r in rows if r.label == 1]
    neg = [r for r in rows if r.label == 0]
    assert len(pos) == 2 * len(attacks()) == 2 * (75 + 50)
    assert Counter(r.context for r in neg) == {
        "bipia_email_train": 39,
        "bipia_code_train": 50,
        "bipia_table_train": 40,
    }
    assert Counter(r.position for r in pos) == {"start": 84, "middle": 83, "end": 83}
    assert {r.context for r in pos} == {
        "bipia_email_train",
        "bipia_code_train",
        "bipia_table_train",
    }
    wanted = {a for _, a in attacks()}
    for r in pos:
        assert r.span is not None and r.text[r.span[0] : r.span[1]] in wanted
    assert all(r.span is None and len(r.text) <= 1000 for r in neg)


def test_train_contexts_are_not_eval_emails() -> None:
    emails = {
        r["context"].strip()
        for r in data.read_jsonl(data.ref("bipia_email_test", "eval").resolve())
    }
    assert not emails & {r.text for r in build_rows(SEED) if r.label == 0}


def test_row_labels_follow_the_attack_span() -> None:
    rows = [(0, 100), (40, 60), (55, 80), (100, 140), (0, 52)]
    # attack at [50, 60): row 0 covers it, row 1 holds it, row 2 half of it (5 of 10),
    # row 3 none of it, row 4 only 2 of its 10 characters (not fitted)
    assert _row_labels(1, (50, 60), rows, 1, False) == (
        [1, 1, 1, 0, 0],
        [True, True, True, True, False],
    )
    assert _row_labels(0, None, rows, 1, False) == ([0] * 5, [True] * 5)
    # a whole-text positive: windows fitted, sub-windows not
    assert _row_labels(1, None, rows, 2, False) == ([1] * 5, [True, True, False, False, False])
    assert _row_labels(1, (50, 60), rows, 1, True)[1] == [False] * 5


def test_cut_at_a_line_break() -> None:
    assert cut("abc\ndef ghi", 9) == "abc"
    assert cut("abc def ghi", 9) == "abc def"
    assert cut("short", 9) == "short" and cut("x" * 20, None) == "x" * 20
