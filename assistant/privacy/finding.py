"""The value a privacy detector returns: what kind of personal data, where, and how sure."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KIND_LABELS", "REDACTABLE_KINDS", "Finding"]

# Human words for each kind, used in route reasons ("private: phone number") and reports.
KIND_LABELS: dict[str, str] = {
    "phone": "phone number",
    "id_card": "ID card number",
    "passport": "passport number",
    "bank_card": "bank card number",
    "iban": "IBAN",
    "ssn": "social security number",
    "email": "e-mail address",
    "messenger": "messenger account",
    "plate": "licence plate",
    "credential": "credential",
    "address": "address",
    "birth_date": "date of birth",
    "health": "health information",
    "salary": "salary",
    "confidential": "marked confidential",
    "model_opinion": "local model opinion",
    # Context kinds, read by the learned classifier from what a text says about a person.
    "finance": "personal finances",
    "legal": "legal matters",
    "hr": "HR matters",
    "family": "family and relationships",
    "whereabouts": "where a person is or lives",
    "identity": "identity details",
    "correspondence": "private correspondence",
}

# Kinds whose whole meaning sits in a replaceable token: a placeholder hides them and the answer still works.
# Health, salary, dates of birth and confidential notes are statements, not tokens: they stay local.
REDACTABLE_KINDS: frozenset[str] = frozenset(
    {"phone", "id_card", "passport", "bank_card", "iban", "ssn", "email", "messenger", "plate", "credential",
     "address"}
)


@dataclass(frozen=True, slots=True)
class Finding:
    """Personal data found in a text: ``text[start:end]`` is the span, ``confidence`` is in 0..1."""

    kind: str
    start: int
    end: int
    confidence: float

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)
