"""Trains the privacy detector's learned part and writes assistant/privacy/context_model.bin.

Reads only the tuning split of tests/data/privacy_set.jsonl (the held-apart split is for `teamclaw bench routing`).
The tuning split is cut again by template: a model is fitted on most templates, its temperature (calibration) and
the suggested threshold are chosen on the rest, then the final model is fitted on the whole tuning split with the
same settings and that temperature. Multinomial logistic regression ("none" + one class per kind), L2-regularised,
full-batch Adam, in numpy (a development dependency only: the detector reads the file with the standard library).
Run: ``python scripts/train_privacy_classifier.py`` (about a minute on 2 cores). Deterministic for a given set.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.privacy.classifier import CONTEXT_KINDS, MODEL_PATH, write_model  # noqa: E402
from assistant.privacy.features import DEFAULT_BUCKETS, hashed_features  # noqa: E402

SET = ROOT / "tests" / "data" / "privacy_set.jsonl"
CLASSES = ("none", *CONTEXT_KINDS)
SEED = 7
L2 = 3e-5
EPOCHS = 300
LEARNING_RATE = 0.05
# Errors on a private text cost more than on a harmless one: a miss sends personal data to the cloud.
PRIVATE_WEIGHT = 1.5
TARGET_RECALL = 0.97


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class Design:
    """Sparse rows as flat index/value arrays (CSR without scipy)."""

    def __init__(self, texts: list[str], buckets: int) -> None:
        indices: list[int] = []
        values: list[float] = []
        rows: list[int] = []
        for r, text in enumerate(texts):
            feats = hashed_features(text, buckets)
            indices.extend(feats)
            values.extend([1.0 / np.sqrt(len(feats))] * len(feats))
            rows.extend([r] * len(feats))
        self.idx = np.asarray(indices, dtype=np.int64)
        self.val = np.asarray(values, dtype=np.float64)
        self.row = np.asarray(rows, dtype=np.int64)
        self.n = len(texts)
        self.buckets = buckets

    def logits(self, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = np.zeros((self.n, w.shape[1]))
        contrib = w[self.idx] * self.val[:, None]
        for k in range(w.shape[1]):
            out[:, k] = np.bincount(self.row, weights=contrib[:, k], minlength=self.n)
        return out + b

    def gradient(self, g: np.ndarray) -> np.ndarray:
        grad = np.zeros((self.buckets, g.shape[1]))
        for k in range(g.shape[1]):
            grad[:, k] = np.bincount(self.idx, weights=self.val * g[self.row, k], minlength=self.buckets)
        return grad


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit(design: Design, y: np.ndarray, sample_weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k = len(CLASSES)
    w = np.zeros((design.buckets, k))
    b = np.zeros(k)
    onehot = np.eye(k)[y]
    m_w, v_w, m_b, v_b = np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)
    total = sample_weight.sum()
    for step in range(1, EPOCHS + 1):
        p = _softmax(design.logits(w, b))
        g = (p - onehot) * sample_weight[:, None] / total
        gw = design.gradient(g) + L2 * w
        gb = g.sum(axis=0)
        for param, grad, m, v in ((w, gw, m_w, v_w), (b, gb, m_b, v_b)):
            m *= 0.9
            m += 0.1 * grad
            v *= 0.999
            v += 0.001 * grad * grad
            param -= LEARNING_RATE * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    return w, b


def _quantise(w: np.ndarray) -> tuple[list[float], list[bytes]]:
    scales: list[float] = []
    columns: list[bytes] = []
    for k in range(w.shape[1]):
        scale = float(np.abs(w[:, k]).max() / 127) or 1.0
        q = np.clip(np.rint(w[:, k] / scale), -127, 127).astype(np.int16) + 128
        scales.append(scale)
        columns.append(q.astype(np.uint8).tobytes())
    return scales, columns


def _labels(rows: list[dict[str, object]]) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray([CLASSES.index(str(r["kind"])) if r["private"] else 0 for r in rows])
    weight = np.where(y > 0, PRIVATE_WEIGHT, 1.0)
    return y, weight


def _private_probability(design: Design, w: np.ndarray, b: np.ndarray, temperature: float) -> np.ndarray:
    return 1.0 - _softmax(design.logits(w, b) / temperature)[:, 0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--set", type=Path, default=SET)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()
    tune = [r for r in _rows(args.set) if r["split"] == "tune"]
    templates = sorted({str(r["template"]) for r in tune})
    random.Random(SEED).shuffle(templates)
    calibration = set(templates[: len(templates) // 5])
    fit_rows = [r for r in tune if r["template"] not in calibration]
    cal_rows = [r for r in tune if r["template"] in calibration]

    design = Design([str(r["text"]) for r in fit_rows], DEFAULT_BUCKETS)
    y, weight = _labels(fit_rows)
    w, b = fit(design, y, weight)
    cal = Design([str(r["text"]) for r in cal_rows], DEFAULT_BUCKETS)
    y_cal, _ = _labels(cal_rows)
    logits = cal.logits(w, b)
    best_t, best_nll = 1.0, float("inf")
    for t in np.arange(0.3, 4.01, 0.05):
        p = _softmax(logits / t)
        nll = -np.log(np.clip(p[np.arange(len(y_cal)), y_cal], 1e-12, None)).mean()
        if nll < best_nll:
            best_t, best_nll = float(t), float(nll)
    p_private = _private_probability(cal, w, b, best_t)
    private = y_cal > 0
    # The highest threshold that keeps TARGET_RECALL of the calibration rows' private texts.
    threshold = float(np.sort(p_private[private])[int((1 - TARGET_RECALL) * private.sum())])
    fpr = float((p_private[~private] >= threshold).mean())
    recall_half = float((p_private[private] >= 0.5).mean())
    fpr_half = float((p_private[~private] >= 0.5).mean())
    print(f"calibration: {len(cal_rows)} rows from {len(calibration)} unseen templates, temperature {best_t:.2f}, "
          f"NLL {best_nll:.3f}; at 0.5 recall {recall_half:.3f} FPR {fpr_half:.3f}; "
          f"recall {TARGET_RECALL} needs threshold {threshold:.3f} (FPR {fpr:.3f})")

    full = Design([str(r["text"]) for r in tune], DEFAULT_BUCKETS)
    y_full, weight_full = _labels(tune)
    w, b = fit(full, y_full, weight_full)
    scales, columns = _quantise(w)
    meta = {"rows": len(tune), "set": args.set.name, "split": "tune", "epochs": EPOCHS, "l2": L2,
            "calibration_threshold": round(threshold, 4)}
    write_model(args.out, classes=CLASSES, bias=[float(v) for v in b], scale=scales, temperature=best_t,
                columns=columns, meta=meta)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB) from {len(tune)} tuning rows")


if __name__ == "__main__":
    main()
