"""The training recipes of the ML checks: data, features, model, selection rules.

Everything ``workbench guardrails train`` needs to rebuild a head bit for bit is here
(plus the data files, whose sha256 the manifest records). Selection happens on training
data only: C by cross-validated ROC AUC, the threshold by cross-validated F1. The notes
record what was tried (cross-validated on the same training data) before settling on a
recipe; they are copied into the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from workbench.guardrails.ml.heads import NgramHash

SEED = 20240611


@dataclass(frozen=True)
class Source:
    """Rows of a train-role dataset used by a recipe.

    ``use``: every row with its label, only its positives or negatives, or every row as
    a negative (``as_negatives``: texts that are not of the check's class, e.g. comments
    or PII sentences for prompt injection). All rows take part in the cross-validation
    folds and the threshold choice; ``primary`` rows also get their own CV metrics, and
    ``extra`` rows their own false-positive rate.
    """

    dataset: str
    use: Literal["all", "positives", "negatives", "as_negatives"] = "all"
    role: Literal["primary", "extra"] = "primary"
    #: at most this many rows, drawn with the recipe's seed (None: every row)
    limit: int | None = None
    #: texts cut to at most this many characters at a line break or space (None: whole)
    max_chars: int | None = None
    #: sample weight of the source's fitted label-0 rows (windows and sub-windows of its
    #: negatives, and the attack-free rows of its texts with an inserted attack)
    neg_weight: float = 1.0


#: The pseudo-dataset of indirect-injection rows built from the BIPIA train files
#: (:func:`workbench.guardrails.ml.indirect.build_rows`).
INDIRECT = "bipia_indirect"


@dataclass(frozen=True)
class TextRecipe:
    """A text classifier: logistic regression on MiniLM window features."""

    name: str
    sources: tuple[Source, ...]
    ngrams: tuple[NgramHash, ...] = ()
    c_grid: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0, 30.0)
    folds: int = 5
    seed: int = SEED
    notes: tuple[str, ...] = ()
    #: train on 32-token sub-windows too, as the scorer scores them (negatives' all;
    #: positives' only where an inserted attack's span says which hold it)
    sub_windows: bool = False
    #: add the windows of each text's normalised variant (:mod:`.normalize`) to it
    normalize: bool = False
    #: operating point: the threshold maximises CV F1 subject to this FPR on the
    #: negative train rows (None: max CV F1)
    max_fpr: float | None = None
    #: and this FPR on the negatives of the ``hard_sources`` (benign look-alikes: trigger
    #: words, documents) alone, so that the easy negatives cannot hide them (None: no limit)
    hard_max_fpr: float | None = None
    hard_sources: tuple[str, ...] = ()
    kind: str = field(default="text_head", init=False)


@dataclass(frozen=True)
class TokenRecipe:
    """The PII token tagger: multinomial logistic regression per WordPiece token."""

    name: str = "pii_ner"
    labels: tuple[str, ...] = ("O", "PERSON", "ADDRESS")
    context: int = 1
    shape: bool = True
    c_grid: tuple[float, ...] = (0.03, 0.1, 0.3)
    thresholds: tuple[float, ...] = (
        0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9,
    )  # fmt: skip
    folds: int = 5
    seed: int = SEED
    notes: tuple[str, ...] = ()
    kind: str = field(default="token_head", init=False)


#: Benign texts that are not of a check's class, used as extra negatives: the hand-made
#: benign prompts, social-media comments (surge-ai), PII sentences (Presidio train split).
BENIGN_PROMPTS = Source("jailbreak_handmade", use="negatives", role="extra")
COMMENTS = Source("toxicity_surge", use="as_negatives", role="extra")
PII_SENTENCES = Source("pii_presidio_synth", use="as_negatives", role="extra")

_WHY_EXTRA = (
    "why extra negatives: heads trained on their primary set alone flagged, at their CV "
    "thresholds, on train-role data: prompt_injection 73% of surge-ai comments (64% of the "
    "non-toxic ones), 27% of Presidio sentences, 32% of the hand-made benign prompts "
    "(in deepset, injections are longer and more political than benign rows; every train "
    "text over 400 characters is an injection); toxicity 11% of deepset's benign "
    "questions; jailbreak 8.5% of Presidio sentences. The first evaluation, before this "
    "change, showed it too (90% of clean BIPIA emails and 20% of XSTest safe prompts "
    "flagged): the change was made after seeing that; no eval row was used for it."
)

#: Hand-made hard negatives (benign texts with trigger words) and attacks the public
#: train data lacks (multilingual, obfuscated, tool hijack, injected documents).
HANDMADE_INJECTION = Source("injection_handmade")

#: Hand-written benign look-alikes (issue 11, over-blocking): prompts with trigger words,
#: questions about prompt injection, ordinary instructions to the assistant, role-play,
#: technical documents and code answers; their rows weigh twice (prompt_injection) or
#: three times (jailbreak) a plain negative.
HARD_NEGATIVES = "injection_hardneg"
#: Generated plain instructions to the assistant (issue 11, over-blocking: "say X",
#: "list", "translate", "reply with", "format as JSON", "Request 12:" prefixes); their
#: rows weigh three times a plain negative in both recipes.
PLAIN_INSTRUCTIONS = "benign_instructions"
#: The sources whose negatives the hard FPR limit of the operating point reads.
HARD_SOURCES = (HARD_NEGATIVES, "injection_handmade", "jailbreak_handmade", PLAIN_INSTRUCTIONS)

_OVERBLOCKING_PI = (
    "issue 11, over-blocking (the heads above denied 21-45% of NotInject and 40% of "
    "WildGuard benign prompts and flagged 40% of BIPIA code test contexts in the eval; "
    "no eval row was used for what follows). 5-fold CV on train-role data, threshold at "
    "max CV F1 with FPR <= 1% over all negatives (deepset recall / indirect recall / "
    "clean BIPIA code contexts flagged / hand-made attack recall / injection_hardneg FPR):",
    "  the recipe above, injection_hardneg unseen (scored by the full model): 0.793 / "
    "0.936 / 0.080 / 0.575 / 0.083 (assistant tasks 20%, technical documents 17%)",
    "  + injection_hardneg as negatives (weight 1): 0.768 / 0.936 / 0.080 / 0.425 / 0.033 "
    "(out of fold)",
    "  + weight 3 on injection_hardneg and on the label-0 rows of the BIPIA contexts "
    "(clean contexts, attack-free windows and sub-windows of attacked ones): 0.764 / "
    "0.916 / 0.020 / 0.375 / 0.033",
    "  + weight 2 on both: 0.764 / 0.928 / 0.040 / 0.375 / 0.030 (chosen: the indirect "
    "recall target is 0.85 and the eval sat at 0.848; clean contexts 1.6% over all three "
    "sets)",
    "  hard-negative FPR limit on the threshold (negatives of injection_hardneg, "
    "injection_handmade, jailbreak_handmade), with weight 2: <= 3% does not bind (0.030); "
    "<= 2%: deepset recall 0.685, indirect 0.864; <= 1%: 0.498 / 0.752 (too costly). "
    "Kept at 3% as a guard against later data changes",
)

_OVERBLOCKING_JB = (
    "issue 11, over-blocking: 5-fold CV (threshold at max CV F1 with FPR <= 1%; "
    "jailbreak_llms_train recall / hand-made primary recall / hard negatives FPR, i.e. "
    "negatives of injection_hardneg, injection_handmade and jailbreak_handmade):",
    "  the recipe above: 0.900 / 0.902 / 0.042 (injection_hardneg unseen: 6.5%; trigger-"
    "word tech questions 10%, questions about injection 12.5%, assistant tasks 16%)",
    "  + injection_hardneg negatives, weight 1: 0.900 / 0.909 / 0.043; weight 3: 0.900 / "
    "0.902 / 0.031 (injection_handmade benign FPR 7.1% -> 1.2%)",
    "  weight 3 with a hard-negative FPR limit: <= 3%: 0.900 / 0.894 / 0.030 (chosen); "
    "<= 2%: 0.863 / 0.788 / 0.019; <= 1%: 0.812 / 0.697 / 0.009 (held-out jailbreak "
    "recall target 0.9: not kept)",
)

_PLAIN_PI = (
    "issue 11, plain instructions (the heads above denied the gateway benchmark's "
    "'Request 1234: say hello in five words.' at 0.96: deepset's injections are "
    "imperatives, its benign rows questions; the n-gram block added +12 to its logit). "
    "+ benign_instructions.jsonl (469 generated plain instructions) as negatives. 5-fold "
    "CV as below, except that benign_instructions rows are folded by category (whole "
    "categories unseen in their fold: template siblings do not leak), threshold at max CV "
    "F1 with FPR <= 1% (deepset recall / indirect recall / clean BIPIA train contexts "
    "flagged / hand-made attack recall / injection_hardneg FPR / benign_instructions FPR):",
    "  benign_instructions unseen (weight 0), hard limit 3% on the three sets above: "
    "0.690 / 0.860 / 0.000 / 0.325 / 0.021 / 0.034 (translate 30%, short answers 14%, "
    "other-language instructions 14%)",
    "  + weight 1 / 2 / 3 / 4, hard limit 3% with benign_instructions in it: 0.759 / 0.912-"
    "0.916 / 0.023 / 0.325-0.375 / 0.030 / 0.015-0.017 (weight 3: 0.759 / 0.916 / 0.023 / "
    "0.375 / 0.030 / 0.015)",
    "  weight 3, hard limit 2%: 0.734 / 0.876 / 0.000 / 0.300 / 0.024 / 0.015 (chosen: "
    "fewer benign look-alikes and clean contexts flagged for 2.5 points of deepset recall; "
    "the eval showed over-blocking far above CV); 1%: 0.685 / 0.816 / 0.000 / 0.275 / "
    "0.015 / 0.006 (too costly)",
    "  weight 3, C 3 / 10 / 100 (hard 3%): deepset 0.729 / 0.759 / 0.768, indirect 0.844 / "
    "0.900 / 0.928, benign_instructions FPR 0.021 / 0.015 / 0.015: C stays 30",
    "  n-gram block scaled x0.5 in training (stronger L2 on it), weight 2, tol 1e-4: "
    "deepset 0.635 vs 0.739 unscaled; char_wb 3-5 instead of 2-5: 0.729 / 0.860 vs 0.739 "
    "/ 0.880: neither kept (short prompts have one window and no sub-windows, so the "
    "window scheme is not what made them fire)",
    (
        "  committed (the trainer's CV folds rows, not categories, so benign_instructions' "
        "template siblings leak across folds and its rows look easy: 0.2% out of fold; the 2%"
        " hard limit then binds less than in the grouped CV above): threshold 0.398, deepset "
        "recall 0.773, indirect 0.924 with 3.9% of clean train contexts flagged, hand-made "
        "attacks 0.400, injection_hardneg FPR 0.039 (metrics.cv.by_source); folding by "
        "category in the trainer is left for later"
    ),
)

_PLAIN_JB = (
    "issue 11, plain instructions: + benign_instructions.jsonl as negatives (folded by "
    "category in CV; tol 1e-4 exploration; jailbreak_handmade recall / jailbreak_llms_train "
    "recall / hard negatives FPR / benign_instructions FPR): unseen 0.833 / 0.881 / 0.024 "
    "/ 0.011; weight 1: 0.879 / 0.894 / 0.021 / 0.011; weight 3: 0.871 / 0.881 / 0.017 / "
    "0.002 (chosen, as injection_hardneg; hard limit kept at 3%: 2% did not bind)",
)

PROMPT_INJECTION = TextRecipe(
    name="prompt_injection",
    sources=(
        Source("prompt_injection_train"),
        Source(INDIRECT, role="extra", neg_weight=2.0),
        Source("injection_handmade", role="extra"),
        BENIGN_PROMPTS,
        COMMENTS,
        PII_SENTENCES,
        Source(HARD_NEGATIVES, use="negatives", role="extra", neg_weight=2.0),
        Source(PLAIN_INSTRUCTIONS, use="negatives", role="extra", neg_weight=3.0),
    ),
    ngrams=(NgramHash("char_wb", 2, 5, 2**16), NgramHash("word", 1, 2, 2**16)),
    c_grid=(30.0,),
    sub_windows=True,
    normalize=True,
    max_fpr=0.01,
    hard_max_fpr=0.02,
    hard_sources=HARD_SOURCES,
    notes=(
        "5-fold CV on prompt_injection_train alone (AUC / best F1 over thresholds):",
        "  LR on mean-pooled MiniLM, C 0.3..100: AUC 0.91-0.94, best F1 0.82-0.86",
        "  + class_weight=balanced: no gain (F1 0.85); + lower-cased copies: no gain (0.86)",
        "  mean+max pooling concatenated: AUC 0.955, F1 0.87",
        "  sklearn MLP (64 or 256 hidden, alpha 1e-3..1e-1): AUC 0.94-0.95, F1 0.84-0.85",
        "  hashed char n-grams alone (char_wb 2-5): AUC 0.975, F1 0.93",
        "  MiniLM mean + hashed char_wb 2-5 (2^16): AUC 0.978-0.982, F1 0.92-0.93 "
        "(first committed recipe: deepset test F1 0.922, but see the next line)",
        _WHY_EXTRA,
        "with the extra negatives (CV over all rows; primary = deepset rows): "
        "MiniLM mean + char_wb 2-5: primary F1 0.86-0.88, extra-negative FPR 0.4-0.5%; "
        "+ mean+max pooling: 0.86-0.88; char 1-6 at 2^18: 0.82; MiniLM mean+max alone: 0.79; "
        "class_weight=balanced or down-weighting the extra rows (0.1, 0.3): no gain; "
        "MiniLM mean + char_wb 2-5 + word 1-2 n-grams: primary F1 0.88-0.89, "
        "extra-negative FPR 0.2-0.5% (chosen)",
        "issue 11 (indirect injections, hard negatives, obfuscation): + BIPIA train attacks "
        "inserted into BIPIA train contexts (bipia_indirect: 3 insertions per attack, 60 "
        "tables, contexts cut to 1500 chars; windows and 32-token sub-windows labelled by "
        "the attack's span) + injection_handmade + normalised variants, threshold at max "
        "CV F1 with FPR <= 1% over all negatives: C 10 / 30 / 100: CV AUC 0.983 / 0.983 / "
        "0.983, F1 0.905 / 0.910 / 0.910; at C=30: deepset recall 0.78 (FPR 0.9%), "
        "indirect recall 0.95 (clean contexts flagged 2.7%), hand-made attacks recall "
        "0.58 (hand-made benign FPR 7.1%), jailbreak_handmade benign FPR 5.2%",
        "bounded for training time (encoding the indirect rows dominated: 16k rows, ~15 "
        "min on the loaded 2-core machine): 2 insertions per attack, 40 tables, 1000 "
        "chars, C fixed at 30 (the grid above was flat): CV AUC 0.979, F1 0.890; deepset "
        "recall 0.79 (FPR 2.0%), indirect recall 0.94 (clean contexts 3.9%), hand-made "
        "attacks 0.58 (benign 4.8%), jailbreak_handmade benign FPR 5.8% (chosen; "
        "final figures, after normalised variants that differ only in whitespace were "
        "dropped, in metrics.cv.by_source)",
        "  contexts cut to 600 chars and 30 tables (encoding time 214 s vs 376 s): CV F1 "
        "0.871; deepset recall 0.77, indirect recall 0.90 with 5.9% of clean contexts "
        "flagged: worse, not kept",
        "deepset primary CV F1 stays at 0.87 with every variant: the frozen-MiniLM "
        "logistic head, not the data, limits it; the issue's 0.95 needs a stronger model",
        *_OVERBLOCKING_PI,
        *_PLAIN_PI,
    ),
)

TOXICITY = TextRecipe(
    name="toxicity",
    sources=(
        Source("toxicity_surge"),
        BENIGN_PROMPTS,
        Source("prompt_injection_train", use="as_negatives", role="extra"),
        PII_SENTENCES,
    ),
    ngrams=(),
    c_grid=(0.3, 1.0, 3.0, 10.0),
    notes=(
        "5-fold CV on toxicity_surge alone (AUC / best F1):",
        "  LR on mean-pooled MiniLM, C 0.3..10: AUC 0.970-0.973, F1 0.914-0.922",
        "  mean+max pooling: AUC 0.972-0.975, F1 0.92; + hashed char n-grams: AUC 0.975, F1 0.93",
        "  chosen: MiniLM mean only (n-grams add little and key on surface words)",
        _WHY_EXTRA,
        "with extra negatives (primary = surge rows): + hand-made benign prompts: primary "
        "F1 0.915; + deepset negatives: 0.909; + all deepset rows and Presidio sentences: "
        "0.905 with extra-negative FPR 0.6% (chosen: prompts and plain sentences are what a "
        "gateway sees; surge-ai has social-media comments only)",
    ),
)

JAILBREAK = TextRecipe(
    name="jailbreak",
    sources=(
        Source("jailbreak_handmade"),
        Source("jailbreak_llms_train", role="extra", limit=160, max_chars=800),
        COMMENTS,
        PII_SENTENCES,
        Source("prompt_injection_train", use="negatives", role="extra"),
        Source("injection_handmade", use="negatives", role="extra"),
        Source(HARD_NEGATIVES, use="negatives", role="extra", neg_weight=3.0),
        Source(PLAIN_INSTRUCTIONS, use="negatives", role="extra", neg_weight=3.0),
    ),
    ngrams=(),
    c_grid=(3.0,),
    normalize=True,
    max_fpr=0.01,
    hard_max_fpr=0.03,
    hard_sources=HARD_SOURCES,
    notes=(
        "primary data: datasets/jailbreak_handmade.jsonl (hand-written for this project: 132 "
        "jailbreak attempts, 155 benign prompts of which many sound edgy)",
        "5-fold CV on the hand-made set alone (AUC / F1 at the CV threshold):",
        "  hand-made only, MiniLM mean: AUC 0.987, F1 0.959 (first committed recipe)",
        "  + prompt_injection_train positives as extra positives: AUC 0.960, F1 0.910",
        "  + all prompt_injection_train rows: AUC 0.971, F1 0.930",
        "  + all prompt_injection_train rows and hashed char n-grams: AUC 0.986, F1 0.948",
        "features: MiniLM mean only (n-grams on a small one-author set would learn "
        "the author's wording)",
        _WHY_EXTRA,
        "with extra negatives (primary = hand-made rows): + surge comments + Presidio "
        "sentences: primary F1 0.931, extra FPR 0.18%; + deepset benign questions too: "
        "0.934, extra FPR 0.08% (chosen before issue 11)",
        "issue 11: + 160 jailbreak_llms_train prompts (cut to 800 chars; drawn with the "
        "seed, bounded for encoder time) as positives, injection_handmade benign rows as "
        "negatives, normalised variants, threshold at max CV F1 with FPR <= 1%, C fixed "
        "at 3 (the earlier grid's choice): CV AUC 0.993, F1 0.923; hand-made primary F1 "
        "0.933 (recall 0.90, benign FPR 2.6%), jailbreak_llms_train recall 0.90, "
        "injection_handmade benign FPR 7.1% (chosen before the over-blocking work)",
        *_OVERBLOCKING_JB,
        *_PLAIN_JB,
    ),
)

PII_NER = TokenRecipe(
    notes=(
        "trained on pii_presidio_synth.json records with index % 5 != 0; CV = 5 group folds "
        "by record; threshold maximises the mean overlap-span F1 of PERSON and ADDRESS",
        "tried (CV, overlap span F1 PERSON / ADDRESS): token state alone 0.82 / 0.76; with "
        "the neighbouring states (context 1) 0.86 / 0.80; C 1 vs 0.1: 0.1 better",
        "word grouping of WordPiece pieces: max over pieces (recall) vs first piece vs "
        "mean: within 0.01 F1; max chosen (redaction prefers recall)",
        "adding Presidio ZIP_CODE/GPE spans glued to a street address as ADDRESS: no gain",
        "+ 0/1 word-shape features (capitalised, digits, punctuation, word start, newline) "
        "of the token and its neighbours, C=0.1: mean F1 0.858 -> 0.869 (chosen); C=1: 0.855",
    ),
)

RECIPES: dict[str, TextRecipe | TokenRecipe] = {
    r.name: r for r in (PROMPT_INJECTION, JAILBREAK, TOXICITY, PII_NER)
}

__all__ = [
    "BENIGN_PROMPTS",
    "HANDMADE_INJECTION",
    "HARD_NEGATIVES",
    "HARD_SOURCES",
    "INDIRECT",
    "PLAIN_INSTRUCTIONS",
    "COMMENTS",
    "JAILBREAK",
    "PII_SENTENCES",
    "PII_NER",
    "PROMPT_INJECTION",
    "RECIPES",
    "SEED",
    "TOXICITY",
    "Source",
    "TextRecipe",
    "TokenRecipe",
]
