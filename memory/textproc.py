"""Text handling shared by the keyword index and ranking: CJK bigrams for FTS5, query building, token sets."""

from __future__ import annotations

import re

__all__ = ["cjk_count", "fts_body", "fts_query", "has_cjk", "normalize", "token_set"]

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_CJK_RE = re.compile(f"[{_CJK}]")
_SPLIT_RE = re.compile(f"([{_CJK}]+)|([^\\W_]+(?:['’][^\\W_]+)?)")
# Words that match most of any chat history: dropping them keeps OR queries cheap and ranking sharp.
_STOP = frozenset(
    """a an and are as at be been but by can could did do does for from had has have he her hers him his how i
    if in into is it its me my no not of on or our ours she so than that the their them then there these they
    this those to us was we were what when where which who whom why will with would you your yours about any
    s t just also tell say said please remember know""".split()
)
_CJK_STOP = frozenset("什么 我们 你们 他们 是不 一下 怎么 哪个 哪些 吗 的 了 是 在 有 和 吧 呢 啊".split())


def has_cjk(text: str) -> bool:
    return _CJK_RE.search(text) is not None


def cjk_count(text: str) -> int:
    """How many CJK characters ``text`` holds."""
    return len(_CJK_RE.findall(text))


def _cjk_grams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def _terms(text: str) -> list[str]:
    out: list[str] = []
    for cjk, word in _SPLIT_RE.findall(text.lower()):
        if cjk:
            out.extend(_cjk_grams(cjk))
        elif word:
            out.append(word.replace("’", "'"))
    return out


def fts_body(text: str) -> str:
    """What the FTS5 table indexes: words as they are, CJK runs as overlapping bigrams."""
    return " ".join(_terms(text))


def fts_query(text: str, *, limit_terms: int = 24) -> str | None:
    """An FTS5 MATCH expression: any of the query's meaningful terms (bm25 ranks by how many and how rare)."""
    seen: dict[str, None] = {}
    for term in _terms(text):
        if term in _STOP or term in _CJK_STOP or (len(term) == 1 and not has_cjk(term)):
            continue
        seen.setdefault(term.replace('"', ""), None)
    terms = [t for t in seen if t][:limit_terms]
    if not terms:
        return None
    return " OR ".join(f'"{t}"' for t in terms)


def normalize(text: str) -> str:
    """Text folded for duplicate detection: lower case, single spaces, no trailing punctuation."""
    return re.sub(r"\s+", " ", text.strip().lower()).rstrip(" .。!！?？")


def token_set(text: str) -> frozenset[str]:
    return frozenset(t for t in _terms(text) if t not in _STOP)
