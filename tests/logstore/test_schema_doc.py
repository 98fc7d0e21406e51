"""docs/log-schema.md is what `workbench logs schema` prints."""

from pathlib import Path

from workbench.logstore._doc import schema_markdown


def test_schema_doc_is_current():
    doc = Path(__file__).resolve().parents[2] / "docs" / "log-schema.md"
    assert doc.read_text() == schema_markdown(), "run: workbench logs schema > docs/log-schema.md"
