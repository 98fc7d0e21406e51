"""language (py3langid) and gibberish (statistical)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from workbench.guardrails.validators.gibberish import gibberish_score
from workbench.guardrails.validators.language import LABELS, detect_language, identifier

SENTENCES = {
    "en": "Hello, can you help me write a cover letter for a job application?",
    "fr": "Bonjour, pouvez-vous m'aider à écrire une lettre de motivation ?",
    "de": "Hallo, kannst du mir helfen, ein Anschreiben zu schreiben?",
    "es": "¿Puedes ayudarme a escribir una carta de presentación para un trabajo?",
    "it": "La volpe marrone veloce salta sopra il cane pigro mentre i bambini guardano.",
    "ru": "Быстрая коричневая лиса прыгает через ленивую собаку, пока дети смотрят.",
    "zh": "请帮我写一封求职信，谢谢你的帮助，我非常感谢。",
    "ja": "素早い茶色の狐が怠け者の犬を飛び越え、子供たちが庭から見ている。",
}


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_detects_language(lang: str) -> None:
    code, prob = detect_language(SENTENCES[lang])
    assert code == lang and prob > 0.5
    assert detect_language(SENTENCES[lang]) == (code, prob)  # deterministic


def test_label_list_matches_the_model() -> None:
    assert set(identifier().labels) == LABELS


def test_allow_list(make: Any) -> None:
    v = make("language", allow=["en", "FR"])
    assert v.validate(SENTENCES["en"], {}).outcome == "pass"
    assert v.validate(SENTENCES["fr"], {}).metadata["language"] == "fr"
    res = v.validate(SENTENCES["de"], {})
    assert res.outcome == "fail"
    assert res.metadata["language"] == "de" and res.metadata["score"] > 0.9
    assert res.error_spans[0].start == 0 and res.error_spans[0].end == len(SENTENCES["de"])
    assert v.validate(SENTENCES["zh"], {}).outcome == "fail"


def test_short_or_non_linguistic_text_is_not_judged(make: Any) -> None:
    v = make("language", allow=["en"])
    for text in ["ok", "Danke!", "SELECT * FROM t; https://x.com 12345", "🙂🙂🙂"]:
        res = v.validate(text, {})
        assert res.outcome == "pass", text
        assert res.metadata["language"] is None
    assert make("language", allow=["en"], min_chars=3).validate("Danke schön", {}).outcome == "fail"


def test_code_and_urls_do_not_decide(make: Any) -> None:
    v = make("language", allow=["en"])
    text = "Summarize: ```python\nimport os\nprint(os.listdir())\n``` thanks a lot my friend"
    assert v.validate(text, {}).outcome == "pass"


def test_min_confidence_and_no_linguistic_content(make: Any) -> None:
    _, prob = detect_language(SENTENCES["de"])
    assert prob < 1.0
    never = make("language", allow=["en"], min_confidence=1.0)
    assert never.validate(SENTENCES["de"], {}).outcome == "pass"
    mash = "sdfkjh wqeoiru zxmcnv qwpeoir xcvbn"
    assert detect_language(mash)[0] == "zxx"
    res = make("language", allow=["en"]).validate(mash, {})
    assert res.outcome == "pass" and res.metadata["language"] == "zxx"


# --- gibberish -----------------------------------------------------------------

REAL = [
    "The mitochondria is the powerhouse of the cell.",
    "Could you summarise the attached report in three bullet points for my manager?",
    "My son is very interested in programming and would like to develop his own app.",
    "Ich möchte gerne wissen, wie das Wetter morgen in Berlin wird.",
    "Can you fix this?\n```python\ndef foo_bar(x):\n    return np.linalg.svd(x)\n```\n"
    "It throws ValueError in numpy.linalg when x is sparse.",
    "xkcd 927 is about standards proliferation, see https://xkcd.com/927/",
    "Tomomi Nishiyama lives at Rua do Arenque 1634 in Goiânia.",
]
MASH = [
    "asdf asdf asdf asdf",
    "sdfkjh wqeoiru zxmcnv qwpeoir",
    "jkjkjkjkjk lalalalala hfhfhfhf",
    "qwertyuiop asdfghjkl zxcvbnm",
    "fgvcbjn hjkl dfgh sdfg xcvbn",
    "l;l;l;l;l;l; k;k;k;k;k;",
]


def _keyboard_mash(rng: random.Random) -> str:
    rows = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
    words = []
    for _ in range(rng.randint(4, 10)):
        row = rng.choice(rows)
        i = rng.randint(0, len(row) - 4)
        words.append("".join(rng.sample(row[i:], k=min(len(row) - i, rng.randint(4, 7)))))
    return " ".join(words)


@pytest.mark.parametrize("text", REAL)
def test_real_text_is_not_gibberish(make: Any, text: str) -> None:
    res = make("gibberish").validate(text, {})
    assert res.outcome == "pass", (text, res.metadata)


@pytest.mark.parametrize("text", MASH)
def test_mashing_is_gibberish(make: Any, text: str, spans: Any) -> None:
    res = make("gibberish").validate(text, {})
    assert res.outcome == "fail", (text, res.metadata)
    assert res.metadata["score"] >= 0.5
    assert spans(res, text) == [(text, "GIBBERISH")]


def test_random_mashing_is_mostly_caught() -> None:
    rng = random.Random(7)
    scores = [gibberish_score(_keyboard_mash(rng)) for _ in range(100)]
    assert sum(s >= 0.5 for s in scores) >= 95


def test_threshold_and_min_letters(make: Any) -> None:
    assert make("gibberish").validate("qwrtz", {}).outcome == "pass"  # too short to judge
    assert make("gibberish", min_letters=3).validate("qwrtz xkcvb", {}).outcome == "fail"
    lenient = make("gibberish", threshold=1.0)
    assert lenient.validate("asdf jkl; qwer", {}).metadata["score"] < 1.0
