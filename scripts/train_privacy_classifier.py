"""Trains the privacy detector's learned part and writes assistant/privacy/context_model.bin.

Reads only the tuning split of tests/data/privacy_set.jsonl (the held-apart split is for `teamclaw bench routing`).
The tuning split is cut again by template: a model is fitted on most templates, its temperature (calibration) is
chosen on the rest, then the final model is fitted on the whole tuning split with the same settings and that
temperature. Two heads over the same features: a binary logistic regression (private or not) that decides, and a
multinomial one ("none" + one class per kind) that names the kind. L2-regularised, full-batch Adam, in numpy (a
development dependency only: the detector reads the file with the standard library).
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

from assistant.privacy.classifier import CONTEXT_KINDS, MODEL_PATH, Head, write_model  # noqa: E402
from assistant.privacy.features import DEFAULT_BUCKETS, hashed_features  # noqa: E402

SET = ROOT / "tests" / "data" / "privacy_set.jsonl"
DECISION = ("none", "private")
KINDS = ("none", *CONTEXT_KINDS)
SEED = 7
L2 = 3e-5
EPOCHS = 300
LEARNING_RATE = 0.05


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


def fit(design: Design, y: np.ndarray, sample_weight: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
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


def _labels(rows: list[dict[str, object]], classes: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    if classes == DECISION:
        y = np.asarray([1 if r["private"] else 0 for r in rows])
    else:
        y = np.asarray([classes.index(str(r["kind"])) if r["private"] else 0 for r in rows])
    # Balanced: the set holds about 2 private texts to 1, a team's chat the other way round; a featureless text
    # must not start out private.
    positives = max(1, int((y > 0).sum()))
    weight = np.where(y > 0, (len(y) - positives) / positives, 1.0)
    return y, weight


def _temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood on rows the model never saw."""
    best_t, best_nll = 1.0, float("inf")
    for t in np.arange(0.3, 4.01, 0.05):
        p = _softmax(logits / t)
        nll = float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def _report(p: np.ndarray, private: np.ndarray) -> str:
    parts = [f"at {t}: recall {(p[private] >= t).mean():.3f} FPR {(p[~private] >= t).mean():.3f}"
             for t in (0.5, 0.7, 0.8)]
    return "; ".join(parts)


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
    cal = Design([str(r["text"]) for r in cal_rows], DEFAULT_BUCKETS)
    full = Design([str(r["text"]) for r in tune], DEFAULT_BUCKETS)
    heads: list[Head] = []
    for name, classes in (("private", DECISION), ("kind", KINDS)):
        y, weight = _labels(fit_rows, classes)
        w, b = fit(design, y, weight, len(classes))
        y_cal, _ = _labels(cal_rows, classes)
        temperature = _temperature(cal.logits(w, b), y_cal)
        if name == "private":
            p = _softmax(cal.logits(w, b) / temperature)[:, 1]
            print(f"calibration ({len(cal_rows)} rows from {len(calibration)} templates the model never saw): "
                  f"temperature {temperature:.2f}; {_report(p, y_cal > 0)}")
        y_full, weight_full = _labels(tune, classes)
        w, b = fit(full, y_full, weight_full, len(classes))
        scales, columns = _quantise(w)
        heads.append(Head(name, classes, tuple(float(v) for v in b), tuple(scales), temperature, tuple(columns)))
    meta = {"rows": len(tune), "set": args.set.name, "split": "tune", "epochs": EPOCHS, "l2": L2}
    write_model(args.out, heads, meta)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB) from {len(tune)} tuning rows")


if __name__ == "__main__":
    main()
