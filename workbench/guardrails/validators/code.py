"""``code_presence``: fenced code blocks and runs of code-like lines, with a language guess.

Heuristic language signatures (python, javascript, sql, shell, java, c/c++, html), one
compiled alternation per language scanned over the whole text; no hub equivalent exists.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from guardrails.validators import register_validator
from pydantic import Field

from workbench.guardrails.validators._base import CheapValidator, Params, Result, fail, ok

Language = Literal["python", "javascript", "sql", "shell", "java", "c", "html"]

_SIGNATURES: dict[str, list[str]] = {
    "python": [
        r"^[ \t]*(?:async[ \t]+)?def[ \t]+\w+[ \t]*\(.*\)[ \t]*(?:->[^:\n]+)?:[ \t]*$",
        r"^[ \t]*class[ \t]+\w+(?:\(.*\))?:[ \t]*$",
        r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+)?import[ \t]+[\w.]+(?:[ \t]+as[ \t]+\w+)?"
        r"(?:,[ \t]*[\w.]+)*[ \t]*$",
        r"^[ \t]*(?:if|elif|while|for|with|try|except|else|finally)\b[^\n]*:[ \t]*$",
        r"\bprint\(.*\)", r"\bself\.\w+", r"\b__\w+__\b", r"\blambda\b[^:\n]*:",
        r"^[ \t]*@\w+(?:\.\w+)*(?:\(.*\))?[ \t]*$", r"^[ \t]*return\b",
    ],
    "javascript": [
        r"\b(?:const|let|var)[ \t]+\w+[ \t]*=", r"\bfunction\b[ \t]*\w*[ \t]*\([^)\n]*\)[ \t]*\{",
        r"\)[ \t]*=>", r"\bconsole\.\w+\(", r"\bdocument\.\w+", r"\brequire\(['\"]",
        r"^[ \t]*import\b.*\bfrom[ \t]+['\"]", r"^[ \t]*export[ \t]+(?:default[ \t]+)?\w+",
        r"===|!==",
    ],
    "sql": [
        r"^[ \t]*(?:SELECT|INSERT[ \t]+INTO|UPDATE|DELETE[ \t]+FROM"
        r"|CREATE[ \t]+(?:TABLE|INDEX|VIEW)|DROP[ \t]+(?:TABLE|DATABASE)|ALTER[ \t]+TABLE"
        r"|WITH[ \t]+\w+[ \t]+AS)\b",
        r"(?i:\bselect[ \t]+(?:\*|[\w.]+(?:[ \t]*,[ \t]*[\w.]+)*)[ \t]+from[ \t]+\w+)",
        r"^[ \t]*(?:FROM|WHERE|GROUP[ \t]+BY|ORDER[ \t]+BY|(?:LEFT[ \t]+|INNER[ \t]+)?JOIN"
        r"|LIMIT|HAVING|VALUES|SET)\b",
        r"\bWHERE[ \t]+[\w.]+[ \t]*(?:=|<|>|LIKE|IN\b)",
    ],
    "shell": [
        r"^[ \t]*\$[ \t]+\w", r"^#!/(?:usr/)?bin/(?:env[ \t]+)?(?:ba|z)?sh",
        r"^[ \t]*(?:sudo|apt(?:-get)?|yum|brew|pip3?|npm|yarn|git|docker|kubectl|curl|wget|chmod"
        r"|chown|mkdir|rm|cp|mv|ls|cd|export|echo|source|ssh|tar)[ \t]+[-\w./~$\"'=]",
        r"\|[ \t]*(?:grep|awk|sed|xargs|sort|uniq|head|tail|wc)\b", r"[ \t]&&[ \t]",
        r"\$\{\w+\}",
    ],
    "java": [
        r"\b(?:public|private|protected)[ \t]+(?:static[ \t]+)?(?:final[ \t]+)?"
        r"(?:class|interface|void|int|String|boolean|long|double)\b",
        r"\bSystem\.(?:out|err)\.print", r"^[ \t]*import[ \t]+java\.",
        r"^[ \t]*package[ \t]+[\w.]+;",
        r"\bnew[ \t]+[A-Z]\w*(?:<[^>\n]*>)?\(", r"@Override\b",
    ],
    "c": [
        r"^[ \t]*#[ \t]*(?:include|define|ifndef|ifdef|endif|pragma)\b", r"\bint[ \t]+main[ \t]*\(",
        r"\bprintf[ \t]*\(", r"\bstd::", r"\bcout[ \t]*<<", r"\b(?:malloc|free|sizeof)[ \t]*\(",
        r"^[ \t]*(?:unsigned[ \t]+|const[ \t]+)?(?:int|char|void|float|double|long)[ \t]+\*?\w+"
        r"(?:\[[^\]\n]*\])?[ \t]*(?:=|;|\()",
        r"\w->\w",
    ],
    "html": [
        r"(?i:<!DOCTYPE[ \t]+html)",
        r"(?i:</?(?:html|head|body|div|span|p|a|script|style|table|tr|td|ul|ol|li|form|input"
        r"|button|img|h[1-6]|meta|link|br)\b[^<>\n]*>)",
    ],
}  # fmt: skip
_GENERIC = re.compile(
    r"[;{}][ \t]*$|^[ \t]*[}\])]+;?[ \t]*$|^[ \t]*(?://|/\*|\*/)|\w\(.*\)[ \t]*;[ \t]*$",
    re.MULTILINE,
)
_LANG_RX = {
    lang: re.compile("|".join(f"(?:{p})" for p in pats), re.MULTILINE)
    for lang, pats in _SIGNATURES.items()
}
_FENCE = re.compile(
    r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:^[ \t]*```[ \t]*$|\Z)", re.S | re.M
)
_ALIASES = {
    "py": "python", "python3": "python", "ipython": "python", "js": "javascript",
    "jsx": "javascript", "ts": "javascript", "tsx": "javascript", "typescript": "javascript",
    "node": "javascript", "mysql": "sql", "postgres": "sql", "postgresql": "sql", "sqlite": "sql",
    "psql": "sql", "sh": "shell", "bash": "shell", "zsh": "shell", "console": "shell",
    "shell-session": "shell", "cpp": "c", "c++": "c", "cc": "c", "h": "c", "hpp": "c",
    "cxx": "c", "htm": "html", "xhtml": "html",
}  # fmt: skip
_PROSE = {"text", "txt", "plaintext", "markdown", "md", "none", "output"}


_CODE_CHARS = re.compile(r"[(){}\[\];=<>$#@|&`*\\]|->|::")
_LEADING = tuple(
    "def class import from if elif while for with try except else finally return print async "
    "lambda const let var function export public private protected package sudo apt yum brew "
    "pip npm yarn git docker kubectl curl wget chmod chown mkdir rm cp mv ls cd echo source ssh "
    "tar select insert update delete create drop alter".split()
)
_SQL_WORDS = ("SELECT", "FROM", "WHERE", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER")
_ALL_RX = (*_LANG_RX.items(), ("generic", _GENERIC))
_LONG_LINE = 100
_SENTENCE_BREAK = re.compile(r"(?<=[.!?;])[ \t]+(?=[A-Z\"'(])")


def _candidate(line: str) -> bool:
    """Cheap test: could this line be code at all? (Most prose lines are not.)"""
    if _CODE_CHARS.search(line) or line.lstrip().startswith(_LEADING):
        return True
    return any(w in line for w in _SQL_WORDS)


def _units(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each line; a long line (prose, minified code) is cut into
    sentences, so one bracket in a paragraph does not make the paragraph code."""
    units: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        end = pos + len(line)
        if len(line) > _LONG_LINE:
            start = pos
            for m in _SENTENCE_BREAK.finditer(line):
                units.append((start, pos + m.start()))
                start = pos + m.end()
            units.append((start, end))
        else:
            units.append((pos, end))
        pos = end + 1
    return units


def _scan(text: str) -> tuple[list[dict[str, int]], list[tuple[int, int]]]:
    """Per unit (line or sentence): hits per language (plus ``"generic"``), and units."""
    units = _units(text)
    hits: list[dict[str, int]] = [{} for _ in units]
    for i, (s, e) in enumerate(units):
        part = text[s:e]
        if part.strip() and _candidate(part):
            for lang, rx in _ALL_RX:
                n = len(rx.findall(part))
                if n:
                    hits[i][lang] = n
    return hits, units


def _guess(hits: list[dict[str, int]]) -> str:
    totals: dict[str, int] = {}
    for h in hits:
        for lang, n in h.items():
            if lang != "generic":
                totals[lang] = totals.get(lang, 0) + n
    return max(totals, key=lambda k: totals[k]) if totals else "unknown"


def find_code(text: str, min_lines: int = 2) -> list[tuple[int, int, str, bool]]:
    """Code blocks in ``text`` as ``(start, end, language, fenced)``."""
    blocks: list[tuple[int, int, str, bool]] = []
    prose_parts: list[tuple[int, int]] = []
    pos = 0
    for m in _FENCE.finditer(text):
        prose_parts.append((pos, m.start()))
        pos = m.end()
        info = m.group(1).lower()
        lang = _ALIASES.get(info, info)
        if lang not in _SIGNATURES:
            guessed = _guess(_scan(m.group(2))[0])
            if info in _PROSE and guessed == "unknown":
                continue
            lang = guessed
        blocks.append((m.start(), m.end(), lang, True))
    prose_parts.append((pos, len(text)))
    for a, b in prose_parts:
        blocks += _unfenced(text[a:b], a, min_lines)
    return sorted(blocks)


def _unfenced(text: str, offset: int, min_lines: int) -> list[tuple[int, int, str, bool]]:
    if not text.strip():
        return []
    hits, units = _scan(text)
    out: list[tuple[int, int, str, bool]] = []
    run: list[int] = []

    def flush() -> None:
        if not run:
            return
        strong = sum(n for i in run for k, n in hits[i].items() if k != "generic")
        if len(run) >= min_lines or strong >= 2:
            lang = _guess([hits[i] for i in run])
            out.append((offset + units[run[0]][0], offset + units[run[-1]][1], lang, False))
        run.clear()

    for i, h in enumerate(hits):
        if h:
            run.append(i)
        elif run and text[units[i][0] : units[i][1]].strip():  # blank lines do not break
            flush()
    flush()
    return out


class CodePresenceParams(Params):
    """Params of ``code_presence``."""

    languages: list[Language] = Field(default_factory=list)
    mode: Literal["deny", "allow"] = Field(
        "deny",
        description="deny: fail on code in `languages` (any code when empty); "
        "allow: fail on code in any language not listed",
    )
    min_lines: int = Field(2, ge=1, description="unfenced code-like lines that make a block")


@register_validator(name="workbench/code_presence", data_type="string")
class CodePresence(CheapValidator[CodePresenceParams]):
    """Fails when (denied) code is present; reports the detected languages."""

    check_name = "code_presence"
    params_model = CodePresenceParams

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """Find blocks, then apply the allow/deny language rule."""
        p = self.params
        blocks = find_code(value, p.min_lines)
        langs = sorted({b[2] for b in blocks})
        if p.mode == "allow":
            bad = [b for b in blocks if b[2] not in p.languages]
        else:
            bad = [b for b in blocks if not p.languages or b[2] in p.languages]
        score = sum(e - s for s, e, _, _ in blocks) / max(len(value), 1)
        if not bad:
            return ok(score=score, languages=langs)
        bad_langs = sorted({b[2] for b in bad})
        return fail(
            f"code detected ({', '.join(bad_langs)})",
            [
                (s, e, f"CODE: {lang}" + (" (fenced)" if fenced else ""))
                for s, e, lang, fenced in bad
            ],
            score=score,
            languages=langs,
        )


VALIDATORS: tuple[type[CheapValidator[Any]], ...] = (CodePresence,)
