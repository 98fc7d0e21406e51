"""``language``: the text's language must be in an allow list (ISO 639-1 codes).

Detector: ``py3langid`` (a maintained, numpy-only fork of langid.py; model shipped in the
wheel, ~4.5 MB; 97 languages). Chosen over ``langdetect`` (~5 ms per 500-char prompt and
random unless seeded) and ``lingua-language-detector`` (~100 MB of models, 20 s to preload,
~1 ms per call): py3langid is ~0.3 ms per call, deterministic (naive Bayes, no sampling, so
there is no seed to set) and was as accurate as both on our checks. Loaded once per process.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from guardrails.validators import register_validator
from pydantic import Field, field_validator

from workbench.guardrails.validators._base import CheapValidator, Params, Result, fail, ok

_lock = threading.Lock()
_identifier: Any = None
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)
_URL = re.compile(r"\b[a-zA-Z][\w+.-]*://\S+")
_EMAIL = re.compile(r"(?<!\S)\S+@\S+")
_PATH = re.compile(r"(?<!\S)\S*[/\\]\S*")
_DIGIT = re.compile(r"\d")
_DIGIT_WORD = re.compile(r"(?<!\w)\w*\d\w*")
_NON_LETTERS = re.compile(r"[\W\d_]+")
#: The detector's labels (ISO 639-1 where one exists), so params validate without loading it.
LABELS = frozenset(
    "ace af am an ar ary arz as az ba bcl be bg bn br bs ca crh cs cy da de dz el en eo es et "
    "eu ext fa fi fo fr fuv fy ga gcf gcr gd gl gom grc gu gug guw ha hbo he hi hr ht hu hy id "
    "ig is it ja jv ka kab kik kk km kn ko ku ky la lb lg lij ln lo lt ltg lv mg mk ml mn mr ms "
    "mt my ne nl nn no nso oc om or pa pcm pl ps pt qu ro ru rw sa sdh se si sk sl sn so sq sr "
    "st sv sw ta te tg th tk tl tr tt ug uk ur uz uzs vec vi vo wa wuu xh yo yue zh zu zxx".split()
)
#: Letters of a text the detector looks at (its cost is linear in length; 400 suffice).
SAMPLE_LETTERS = 400


def strip_noise(text: str) -> str:
    """``text`` without code, URLs, e-mail addresses, paths and digit-bearing tokens."""
    if "`" in text:
        text = _CODE.sub(" ", text)
    if "://" in text:
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _EMAIL.sub(" ", text)
    if "/" in text or "\\" in text:
        text = _PATH.sub(" ", text)
    if _DIGIT.search(text):
        text = _DIGIT_WORD.sub(" ", text)
    return text


def identifier() -> Any:
    """The shared py3langid identifier (normalised probabilities)."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def detect_language(text: str) -> tuple[str, float]:
    """``(iso639-1 code, probability)`` for ``text``."""
    lang, prob = identifier().classify(text)
    return str(lang), float(prob)


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def _weight(text: str) -> int:
    """Length in letters, an ideograph or kana/hangul counting as three."""
    return len(text) + 2 * len(_CJK.findall(text)) if not text.isascii() else len(text)


def sample_letters(text: str) -> str:
    """The words of ``text`` (noise removed), at most about ``SAMPLE_LETTERS`` letters."""
    letters = " ".join(_NON_LETTERS.sub(" ", strip_noise(text[: SAMPLE_LETTERS * 2])).split())
    if len(letters) > SAMPLE_LETTERS:
        cut = letters.rfind(" ", 0, SAMPLE_LETTERS)
        letters = letters[: cut if cut > 0 else SAMPLE_LETTERS]
    return letters


class LanguageParams(Params):
    """Params of ``language``."""

    allow: list[str] = Field(min_length=1, description="ISO 639-1 codes, e.g. ['en', 'fr']")
    min_chars: int = Field(
        20, ge=1, description="letters needed before deciding, else pass (CJK count 3 each)"
    )
    min_confidence: float = Field(
        0.5, ge=0, le=1, description="fail only when this sure of a language not allowed"
    )

    @field_validator("allow")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        codes = [c.strip().lower() for c in v]
        unknown = sorted(c for c in codes if c not in LABELS or c == "zxx")
        if unknown:
            raise ValueError(f"unsupported language code(s): {unknown}")
        return codes


@register_validator(name="workbench/language", data_type="string")
class Language(CheapValidator[LanguageParams]):
    """Fails when the text is confidently in a language outside ``allow``."""

    check_name = "language"
    params_model = LanguageParams

    def setup(self, params: LanguageParams) -> None:
        """Load the detector now, not on the first request."""
        identifier()
        self._allow = frozenset(params.allow)

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """Detect on the letters (code, URLs, numbers removed)."""
        text = sample_letters(value)
        if _weight(text) < self.params.min_chars:
            return ok(language=None)
        lang, prob = detect_language(text)
        # "zxx" (no linguistic content: mashing, tokens) is the gibberish check's business.
        if lang in self._allow or lang == "zxx" or prob < self.params.min_confidence:
            return ok(score=prob, language=lang)
        return fail(
            f"text is in language '{lang}' ({prob:.2f}), allowed: {', '.join(sorted(self._allow))}",
            [(0, len(value), f"LANGUAGE: {lang}")],
            score=prob,
            language=lang,
        )


VALIDATORS: tuple[type[CheapValidator[Any]], ...] = (Language,)
