"""The privacy detector: deterministic patterns for identifiers (with checksums) and credentials, plus a learned
classifier for context (health, finance, legal, HR, family, whereabouts, identity, correspondence).

A scan is pure and costs about a millisecond for a chat message, plus one sentence embedding (~15 ms) where the
n-gram stage is unsure; the same system prompt and transcript reach the router again on every step of a turn, so
results are kept in a small bounded cache keyed by the text.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

from assistant.privacy.classifier import (
    MIN_WORDS,
    MODEL_PATH,
    WORD_PATTERN,
    ContextClassifier,
    default_classifier,
    fast_classifier,
    model_digest,
    window_language,
)
from assistant.privacy.finding import Finding
from assistant.privacy.identifiers import IDENTIFIER_DETECTORS
from assistant.privacy.topics import GATED_TOPIC_DETECTORS, TOPIC_DETECTORS

__all__ = ["DEFAULT_CACHE_SIZE", "DEFAULT_THRESHOLD", "DETECTOR_VERSION", "MIN_CONFIDENCE", "PrivacyDetector",
           "detector_version", "scan"]

DEFAULT_CACHE_SIZE = 2048
# Everything the deterministic detectors report clears this bar.
MIN_CONFIDENCE = 0.5
# The classifier's probability from which a text's context makes it private (routing.privacy_threshold). None: the
# per-language thresholds the training script chose on tuning rows the fitted model never saw, stored in the model
# file beside the weights (a set number in config overrides them for both languages).
DEFAULT_THRESHOLD: float | None = None
# Keyword detectors for health and salary ("胃癌", "salary") also fire on textbook questions: they count only where
# the classifier gives the window at least its language's calibrated topic gate (also stored in the model file).
# Exam and textbook questions are general knowledge whatever their words ("A plaintiff was seriously injured ...
# Which of the following ...", "胃癌好发的部位是"): the keyword detectors skip them.
# Law-school hypotheticals name their parties by role and ask for the rule ("A plaintiff was injured ... Which
# doctrine applies?"): no real person is in them.
_EXAM = re.compile(r"(?i:which of the following|most likely|next best step|which (?:doctrine|rule|principle|statute|"
                   r"theory)\b|(?<![a-z])(?:a|the) (?:plaintiff|defendant|testator|tortfeasor)\b)|"
                   r"\([A-Ea-e]\)\s|（\s*）|\(\s*\)|(?<![A-Za-z])[A-E]\.\s?\S|下列|最可能|正确的是|错误的是|好发|首选|属于")
# A question in English about nobody in particular ("How long does it take to recover from knee surgery on average?",
# "Maria earns $18 an hour ... how much does she take home? Thanks.", "Hi, explain how the rate changes the payment
# on a $240,000 mortgage") is general knowledge or a word problem whatever its words: the keyword detectors skip it,
# as they skip exam questions. A question mark anywhere, or a sentence that opens with a question word or asks to
# explain, describe or calculate ("Hi, explain ..."), makes it a question. It speaks of nobody when it has no first or
# second person and no relative, friend or colleague; a named patient or employee is left to the classifier, which
# reads "Jodi Martinez ... her obesity diagnosis" as private by its context. Chinese drops its pronouns ("阳了，居家
# 办公三天"), so the rule is English only.
_QUESTION = re.compile(r"(?i)\?(?:\s|$)|(?:^|[.!:;]\s*)(?:what|how|which|why|when|where|who|is|are|can|could|does|"
                       r"do|should|would|will|explain|describe|calculate|compute)\b|"
                       # After a comma only a request ("Hi, explain ..."): ", who ...", ", will ..." go on a sentence
                       # about someone ("Tom, whose chemo starts Monday, will miss the standup").
                       r",\s*(?:explain|describe|calculate|compute)\b")
_SOMEBODY = re.compile(
    r"(?i)\b(?:i|i'm|i've|i'd|i'll|im|me|my|mine|myself|we|we're|our|ours|us|you|your|yours|mum|mom|mother|dad|"
    r"father|wife|husband|son|daughter|kids?|child(?:ren)?|baby|brother|sister|partner|boyfriend|girlfriend|"
    r"fianc[eé]e?|grandma|grandmother|grandpa|grandfather|aunt|uncle|cousin|friend|colleague|coworker|co-worker|"
    r"boss|manager|teammate|roommate|neighbou?r|employee|named)\b")
# Bump when a pattern changes; the model file's own digest is appended, so retraining changes the version too.
_RULES_VERSION = "8"

_DETECTORS = IDENTIFIER_DETECTORS + TOPIC_DETECTORS


def _merge(findings: list[Finding]) -> list[Finding]:
    """Keep one finding per overlapping region: the most confident, then the longest."""
    ordered = sorted(findings, key=lambda f: (-f.confidence, -(f.end - f.start), f.start))
    kept: list[Finding] = []
    for f in ordered:
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return kept


def _words_besides(text: str, start: int, end: int, identifiers: list[Finding]) -> int:
    """Words in ``text[start:end]`` outside the identifiers found there (a CJK word counted as two characters)."""
    chars = list(text[start:end])
    for f in identifiers:
        for i in range(max(f.start, start), min(f.end, end)):
            chars[i - start] = " "
    return len(WORD_PATTERN.findall("".join(chars)))


def _about_nobody(window: str, lang: str) -> bool:
    """An English question that names no one it could be about (see ``_QUESTION``)."""
    return lang == "en" and _QUESTION.search(window) is not None and _SOMEBODY.search(window) is None


def _scan(text: str, threshold: float | None, classifier: ContextClassifier) -> tuple[Finding, ...]:
    return _scan_scored(text, threshold, classifier)[0]


def _scan_scored(text: str, threshold: float | None, classifier: ContextClassifier
                 ) -> tuple[tuple[Finding, ...], float]:
    """The findings, and the classifier's highest probability that a window saying enough is private (its doubt
    about a text it did not flag)."""
    if not text or text.isspace():
        return (), 0.0
    found = [f for detect in _DETECTORS for f in detect(text) if f.confidence >= MIN_CONFIDENCE]
    scores = classifier.score(text)
    context: list[Finding] = []
    peak = 0.0
    for score in scores:
        window = text[score.start:score.end]
        lang = window_language(window)
        # A window too short to read context from ("税前工资18000") is not gated: the classifier has no say there.
        says_enough = _words_besides(text, score.start, score.end, found) >= MIN_WORDS
        bar = classifier.threshold(lang) if threshold is None else threshold
        if says_enough:
            peak = max(peak, score.private)
        if says_enough and score.private >= bar:
            context.append(Finding(score.kind, score.start, score.end, round(score.private, 3)))
        if ((score.private >= classifier.topic_gate(lang) or not says_enough) and not _EXAM.search(window)
                and not _about_nobody(window, lang)):
            found += [Finding(f.kind, f.start + score.start, f.end + score.start, f.confidence)
                      for detect in GATED_TOPIC_DETECTORS for f in detect(window)]
    # Context findings span whole sentences; they are kept beside the identifiers inside them, not merged away.
    return tuple(sorted((*_merge(found), *context), key=lambda f: (f.start, f.end))), peak


def scan(text: str) -> tuple[Finding, ...]:
    """Every piece of personal data in ``text`` at the default (per-language) thresholds, in text order
    (identifiers without overlaps; context findings cover the sentences they were read from)."""
    return _scan(text, DEFAULT_THRESHOLD, default_classifier())


def _version() -> str:
    # The file's digest, not the loaded model's: importing the package must not parse the model (the training
    # script imports it to write a new one).
    return f"{_RULES_VERSION}+{model_digest(MODEL_PATH)}"


# What the verdicts stored beside memory records were computed with: when it changes, they are recomputed.
DETECTOR_VERSION: str = _version()


def detector_version(threshold: float | None = DEFAULT_THRESHOLD, *, embeddings: bool = True) -> str:
    """The version a verdict carries when judged at these settings (routing.privacy_threshold and
    routing.privacy_embeddings): DETECTOR_VERSION at the defaults, with the settings appended otherwise, so a
    verdict stored under other settings differs and is judged again."""
    version = DETECTOR_VERSION if threshold is None else f"{DETECTOR_VERSION}/t{threshold:g}"
    return version if embeddings else f"{version}/n-grams"


class PrivacyDetector:
    """``scan`` at a configured threshold, with a bounded least-recently-used cache; one instance lives in the
    router."""

    def __init__(self, threshold: float | None = DEFAULT_THRESHOLD, cache_size: int = DEFAULT_CACHE_SIZE,
                 classifier: ContextClassifier | None = None, *, embeddings: bool = True) -> None:
        self._threshold = threshold
        self._classifier = classifier or (default_classifier() if embeddings else fast_classifier())
        self.version = detector_version(threshold, embeddings=embeddings)
        self._cache: OrderedDict[str, tuple[tuple[Finding, ...], float]] = OrderedDict()
        self._cache_size = cache_size
        # The router scans in worker threads (a scan may embed a text); the cache is shared between them.
        self._lock = threading.Lock()

    @property
    def threshold(self) -> float | None:
        """The configured override, or None for the model's per-language thresholds."""
        return self._threshold

    def scan(self, text: str) -> tuple[Finding, ...]:
        return self._scanned(text)[0]

    def doubt(self, text: str) -> float:
        """The classifier's highest probability that some part of ``text`` is private by its context, whether or not
        it reached the threshold (0.0 for a text too short to read context from); from the same cache as ``scan``."""
        return self._scanned(text)[1]

    def _scanned(self, text: str) -> tuple[tuple[Finding, ...], float]:
        with self._lock:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                return cached
        result = _scan_scored(text, self._threshold, self._classifier)
        with self._lock:
            self._cache[text] = result
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result
