"""The learned part of the privacy detector: calibrated logistic regressions over hashed word and character
n-grams and word families that read a text's context (health, finance, legal, HR, family, whereabouts, identity,
correspondence) where the deterministic detectors only see identifiers.

The weights ship inside the package (``context_model.bin``, trained by ``scripts/train_privacy_classifier.py`` on
the tuning split of tests/data/privacy_set.jsonl) and are read with the standard library only. A score is one table
look-up per feature per class, well under a millisecond for a chat message.

A second stage reads meaning where n-grams only see words: for a window the n-gram stage is unsure of (its
probability inside the model's ``band``), a logistic regression over the window's multilingual-e5 sentence vector
gives a second probability, and the two are averaged in log-odds. Phrasing no template had ("considering her
obesity diagnosis", "my friend Ava ... my budget is") is where n-grams fail and sentence vectors carry over; texts
the first stage is sure of never pay for an embedding (about 15 ms here).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from assistant.errors import ConfigError
from assistant.privacy.encoder import E5Encoder, Encoder
from assistant.privacy.features import FEATURES_VERSION, encoder_text, hashed_features

__all__ = ["CONTEXT_KINDS", "FALLBACK_THRESHOLD", "FALLBACK_TOPIC_GATE", "MIN_WORDS", "MODEL_PATH", "WORD_PATTERN",
           "ContextClassifier", "ContextScore", "EmbeddingHead", "Head", "default_classifier", "fast_classifier",
           "model_digest", "window_language", "write_model"]

MODEL_PATH = Path(__file__).with_name("context_model.bin")
_MAGIC = b"TCPRIV1\n"
# The kinds the classifier tells apart, besides "none"; the order is the file's.
CONTEXT_KINDS = ("health", "finance", "legal", "hr", "family", "whereabouts", "identity", "correspondence")
# Longer texts are read in windows of whole sentences of about this many characters: a system prompt or a long
# document is then judged piece by piece, and a private sentence inside it is not averaged away.
_WINDOW_CHARS = 320
_SENTENCE = re.compile(r"[^.!?。！？\n]*(?:[.!?。！？]+|\n+|$)")
# For a model file without per-language calibration (one written by hand in a test).
FALLBACK_THRESHOLD = 0.5
FALLBACK_TOPIC_GATE = 0.01
_CJK = re.compile(r"[\u4e00-\u9fff]")
# Context is read from words: a window with fewer than MIN_WORDS words besides its identifiers ("my number is
# 138...", "hello there") says too little, and the identifiers found in it speak for themselves. A CJK word is
# counted as two characters.
WORD_PATTERN = re.compile(r"[A-Za-z]+|[\u4e00-\u9fff]{1,2}")
MIN_WORDS = 4


def window_language(text: str) -> str:
    """The language a window is judged in: "zh" when it holds any CJK character, else "en"."""
    return "zh" if _CJK.search(text) else "en"


@dataclass(frozen=True, slots=True)
class ContextScore:
    """One window of a text: ``text[start:end]``, the likeliest private kind and the probability it is private."""

    start: int
    end: int
    kind: str
    private: float


@dataclass(frozen=True, slots=True)
class Head:
    """One softmax over hashed features: ``columns[k]`` holds class k's weights, one byte (int8 + 128) per bucket."""

    name: str
    classes: tuple[str, ...]
    bias: tuple[float, ...]
    scale: tuple[float, ...]
    temperature: float
    columns: tuple[bytes, ...]

    def probabilities(self, features: list[int]) -> dict[str, float]:
        norm = 1.0 / math.sqrt(len(features))
        offset = 128 * len(features)
        logits = [
            (bias + scale * (sum(map(column.__getitem__, features)) - offset) * norm) / self.temperature
            for bias, scale, column in zip(self.bias, self.scale, self.columns, strict=True)
        ]
        top = max(logits)
        exps = [math.exp(v - top) for v in logits]
        total = sum(exps)
        return {c: e / total for c, e in zip(self.classes, exps, strict=True)}


@dataclass(frozen=True, slots=True)
class EmbeddingHead:
    """The second stage: ``P(private | vector) = sigmoid(weights . vector + bias)`` over ``encoder``'s vectors,
    asked only where the first stage's probability lies in ``band``; ``share`` is the first stage's weight in the
    log-odds average. ``calibration`` holds the per-language threshold and topic gate chosen for the combined score."""

    encoder: str
    weights: tuple[float, ...]
    bias: float
    share: float
    band: tuple[float, float]
    calibration: dict[str, dict[str, float]]

    def probability(self, vector: Sequence[float]) -> float:
        z = self.bias + math.fsum(w * v for w, v in zip(self.weights, vector, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def combine(self, first: float, second: float) -> float:
        z = self.share * _logit(first) + (1.0 - self.share) * _logit(second)
        return 1.0 / (1.0 + math.exp(-z))

    def as_json(self) -> dict[str, object]:
        return {"encoder": self.encoder, "weights": list(self.weights), "bias": self.bias, "share": self.share,
                "band": list(self.band), "calibration": self.calibration}


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1.0 - 1e-6)
    return math.log(p / (1.0 - p))


class ContextClassifier:
    """Scores texts with the weights of one model file; immutable after loading. Two heads share the features: a
    binary one ("private" or "none") decides, a multinomial one names the likeliest kind. With an ``encoder`` and a
    model file that holds an embedding head, unsure windows are read a second time through sentence vectors."""

    def __init__(self, path: Path = MODEL_PATH, *, encoder: Encoder | None = None) -> None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"privacy model {path} cannot be read ({exc}): reinstall teamclaw") from exc
        if not raw.startswith(_MAGIC):
            raise ConfigError(f"{path} is not a teamclaw privacy model: reinstall teamclaw")
        (size,) = struct.unpack_from("<I", raw, len(_MAGIC))
        body_at = len(_MAGIC) + 4 + size
        header = json.loads(raw[len(_MAGIC) + 4:body_at])
        if header["features_version"] != FEATURES_VERSION:
            raise ConfigError(f"{path} was trained on other features: retrain it with "
                              "scripts/train_privacy_classifier.py")
        self.digest = _digest(raw)
        self.buckets: int = header["buckets"]
        table = zlib.decompress(raw[body_at:])
        heads: dict[str, Head] = {}
        at = 0
        for spec in header["heads"]:
            count = len(spec["classes"])
            columns = tuple(table[(at + k) * self.buckets:(at + k + 1) * self.buckets] for k in range(count))
            at += count
            heads[spec["name"]] = Head(spec["name"], tuple(spec["classes"]), tuple(spec["bias"]),
                                       tuple(spec["scale"]), spec["temperature"], columns)
        self._decision = heads["private"]
        self._kinds = heads["kind"]
        # Per language, chosen by the training script on tuning rows the fitted model never saw.
        calibration = header.get("calibration", {})
        spec = header.get("embedding")
        self.embedding: EmbeddingHead | None = None
        if spec is not None and encoder is not None:
            if spec["encoder"] != encoder.name:
                raise ConfigError(f"{path} holds an embedding head for {spec['encoder']}, not {encoder.name}: "
                                  "retrain it with scripts/train_privacy_classifier.py")
            self.embedding = EmbeddingHead(spec["encoder"], tuple(spec["weights"]), float(spec["bias"]),
                                           float(spec["share"]), (float(spec["band"][0]), float(spec["band"][1])),
                                           spec["calibration"])
            calibration = self.embedding.calibration
        self._encoder = encoder if self.embedding is not None else None
        self.thresholds: dict[str, float] = {lang: float(c["threshold"]) for lang, c in calibration.items()}
        self.topic_gates: dict[str, float] = {lang: float(c["topic_gate"]) for lang, c in calibration.items()}

    def threshold(self, lang: str) -> float:
        """The calibrated probability from which a window in ``lang`` ("en" or "zh") is private by its context."""
        return self.thresholds.get(lang, FALLBACK_THRESHOLD)

    def topic_gate(self, lang: str) -> float:
        """The probability below which the keyword detectors are not trusted on a window in ``lang``."""
        return self.topic_gates.get(lang, FALLBACK_TOPIC_GATE)

    def probabilities(self, text: str) -> dict[str, float]:
        """Calibrated probability that ``text`` is private ("private" and "none"), and of each kind."""
        features = hashed_features(text, self.buckets)
        if not features:
            return {"private": 0.0, "none": 1.0}
        return {**self._kinds.probabilities(features), **self._decision.probabilities(features)}

    def score(self, text: str) -> list[ContextScore]:
        """One score per window of ``text`` (one window for a chat message)."""
        scores: list[ContextScore] = []
        for start, end in _windows(text):
            features = hashed_features(text[start:end], self.buckets)
            if not features:
                continue
            private = self._decision.probabilities(features)["private"]
            head = self.embedding
            # A window of fewer than MIN_WORDS words gets no context finding whatever it scores (the detector
            # asks for that many words besides identifiers): not worth an embedding ("hi 1", "ok thanks").
            if (head is not None and self._encoder is not None and head.band[0] <= private <= head.band[1]
                    and len(WORD_PATTERN.findall(text, start, end)) >= MIN_WORDS):
                private = head.combine(private, head.probability(self._encoder(encoder_text(text[start:end]))))
            kinds = self._kinds.probabilities(features)
            kind = max((c for c in self._kinds.classes if c != "none"), key=kinds.__getitem__)
            scores.append(ContextScore(start, end, kind, private))
        return scores


def _windows(text: str) -> list[tuple[int, int]]:
    """Spans of whole sentences, about ``_WINDOW_CHARS`` long each, leading and trailing blanks left out."""
    windows: list[tuple[int, int]] = []
    start = end = -1
    for m in _SENTENCE.finditer(text):
        if m.start() == m.end():
            continue
        s, e = m.start(), m.end()
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s == e:
            continue
        if start < 0:
            start, end = s, e
        elif e - start <= _WINDOW_CHARS:
            end = e
        else:
            windows.append((start, end))
            start, end = s, e
    if start >= 0:
        windows.append((start, end))
    return windows


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:12]


def model_digest(path: Path) -> str:
    """The short digest of a model file, "missing" when there is none."""
    try:
        return _digest(path.read_bytes())
    except OSError:
        return "missing"


@cache
def default_classifier() -> ContextClassifier:
    """The shipped model with its sentence-vector stage, read once per process (about 1 ms; the encoder loads on
    the first unsure window)."""
    return ContextClassifier(encoder=E5Encoder())


@cache
def fast_classifier() -> ContextClassifier:
    """The shipped model without the sentence-vector stage (``routing.privacy_embeddings = false``): n-grams only,
    under a millisecond for every text, at the lower accuracy docs/router.md gives."""
    return ContextClassifier()


def write_model(path: Path, heads: Sequence[Head], meta: dict[str, object],
                calibration: dict[str, dict[str, float]] | None = None,
                embedding: EmbeddingHead | None = None) -> None:
    """Write a model file holding ``heads`` (a "private" and a "kind" head), all over the same buckets, per language
    the ``threshold`` and ``topic_gate`` chosen for it, and optionally the sentence-vector stage."""
    buckets = len(heads[0].columns[0])
    header = json.dumps({
        "features_version": FEATURES_VERSION, "buckets": buckets, "meta": meta, "calibration": calibration or {},
        "heads": [{"name": h.name, "classes": list(h.classes), "bias": list(h.bias), "scale": list(h.scale),
                   "temperature": h.temperature} for h in heads],
        **({"embedding": embedding.as_json()} if embedding is not None else {}),
    }, sort_keys=True).encode()
    body = zlib.compress(b"".join(c for h in heads for c in h.columns), 9)
    path.write_bytes(_MAGIC + struct.pack("<I", len(header)) + header + body)
