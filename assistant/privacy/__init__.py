"""Privacy detection: deterministic detectors for identifiers in Chinese and English, a learned classifier for
context, plus an optional local model second opinion. The router asks this package whether a request is private
before it picks a model."""

from __future__ import annotations

from assistant.privacy.checksums import cn_id_check_ok, iban_ok, luhn_ok
from assistant.privacy.classifier import CONTEXT_KINDS
from assistant.privacy.detector import (
    DEFAULT_THRESHOLD,
    DETECTOR_VERSION,
    MIN_CONFIDENCE,
    PrivacyDetector,
    detector_version,
    scan,
)
from assistant.privacy.finding import KIND_LABELS, REDACTABLE_KINDS, Finding
from assistant.privacy.second_opinion import SECOND_OPINION_SCHEMA, second_opinion

__all__ = [
    "CONTEXT_KINDS",
    "DEFAULT_THRESHOLD",
    "DETECTOR_VERSION",
    "KIND_LABELS",
    "MIN_CONFIDENCE",
    "REDACTABLE_KINDS",
    "SECOND_OPINION_SCHEMA",
    "Finding",
    "PrivacyDetector",
    "cn_id_check_ok",
    "detector_version",
    "iban_ok",
    "luhn_ok",
    "scan",
    "second_opinion",
]
