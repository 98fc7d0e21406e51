"""code_presence: fenced blocks, unfenced code-like lines, language guesses, allow/deny."""

from __future__ import annotations

from typing import Any

import pytest

SAMPLES = {
    "python": "Try this:\ndef add(a, b):\n    return a + b\nprint(add(1, 2))\nthanks",
    "javascript": "const x = 5;\nconsole.log(x);",
    "sql": "SELECT name, email\nFROM users\nWHERE id = 3;",
    "shell": "$ pip install requests\n$ curl -s https://x.io | grep foo",
    "java": "public class Main {\n  public static void main(String[] args) {\n"
    '    System.out.println("hi");\n  }\n}',
    "c": '#include <stdio.h>\nint main(void) {\n  printf("hi");\n}',
    "html": '<!DOCTYPE html>\n<html><body><div class="x">hi</div></body></html>',
}
PROSE = [
    "Could you explain how photosynthesis works? For example: what do plants need.\n"
    "Also, if you can, list the steps.",
    "I will select the best option from the list. Then we update the plan and set the goal.",
    "Dear team,\nthanks for the update; the launch is on Monday.\nBest, Ann",
    "```text\nJust some words in a text fence\n```",
    "You fly a BUS --lets get that straight ( # 1 ) and --Heck, anyone can fly a jet.",
]


@pytest.mark.parametrize("lang", sorted(SAMPLES))
def test_detects_language(make: Any, lang: str) -> None:
    res = make("code_presence").validate(SAMPLES[lang], {})
    assert res.outcome == "fail"
    assert res.metadata["languages"] == [lang]
    assert res.error_spans[0].reason == f"CODE: {lang}"


@pytest.mark.parametrize("text", PROSE)
def test_prose_passes(make: Any, text: str) -> None:
    res = make("code_presence").validate(text, {})
    assert res.outcome == "pass"
    assert res.metadata["languages"] == []


def test_fenced_block_span_and_info_string(make: Any, spans: Any) -> None:
    text = "Here you go:\n```py\nx = compute()\n```\nDone."
    res = make("code_presence").validate(text, {})
    assert spans(res, text) == [("```py\nx = compute()\n```", "CODE: python (fenced)")]
    bare = "```\nimport os\nos.remove('x')\n```"
    res = make("code_presence").validate(bare, {})
    assert res.metadata["languages"] == ["python"]


def test_unfenced_block_span(make: Any, spans: Any) -> None:
    text = SAMPLES["python"]
    res = make("code_presence").validate(text, {})
    assert spans(res, text) == [
        ("def add(a, b):\n    return a + b\nprint(add(1, 2))", "CODE: python")
    ]


def test_deny_list_and_allow_list(make: Any) -> None:
    deny_sql = make("code_presence", languages=["sql"])
    assert deny_sql.validate(SAMPLES["python"], {}).outcome == "pass"
    assert deny_sql.validate(SAMPLES["sql"], {}).outcome == "fail"
    allow_py = make("code_presence", languages=["python"], mode="allow")
    assert allow_py.validate(SAMPLES["python"], {}).outcome == "pass"
    res = allow_py.validate(SAMPLES["python"] + "\n\n" + SAMPLES["sql"], {})
    assert res.outcome == "fail"
    assert res.metadata["languages"] == ["python", "sql"]
    assert [s.reason for s in res.error_spans] == ["CODE: sql"]


def test_min_lines(make: Any) -> None:
    one_line = "Please run this:\nx = compute(1);"
    assert make("code_presence").validate(one_line, {}).outcome == "pass"
    assert make("code_presence", min_lines=1).validate(one_line, {}).outcome == "fail"


def test_code_inside_a_prose_paragraph_gets_a_sentence_span(make: Any, spans: Any) -> None:
    text = (
        "Please check this query. SELECT name, email FROM users WHERE created_at > "
        "'2024-01-01'; The results look wrong to me, can you explain what is going on?"
    )
    res = make("code_presence").validate(text, {})
    assert spans(res, text) == [
        ("SELECT name, email FROM users WHERE created_at > '2024-01-01';", "CODE: sql")
    ]
