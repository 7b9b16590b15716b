"""The deterministic privacy detectors: formats, checksums, CJK neighbours, context words and hard negatives, and
recall on the labelled set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.privacy import PrivacyDetector, cn_id_check_ok, iban_ok, luhn_ok, scan
from assistant.providers.base import ChatMessage, ModelRequest, ModelResponse, ToolCall
from assistant.redaction import can_redact, redact, restore

LABELLED = Path(__file__).parent / "data" / "routing_set.jsonl"
# Made-up keys in their providers' formats, split so secret scanners do not flag the source.
OPENAI_KEY = "sk-" + "proj-a8Fj29dkLmQ0pXz7RtY2bNc4VwE6uHs1"
AWS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"


def kinds(text: str) -> list[str]:
    return [f.kind for f in scan(text)]


def spans(text: str) -> list[str]:
    return [text[f.start:f.end] for f in scan(text)]


def with_check_digit(base17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return base17 + "10X98765432"[sum(int(c) * w for c, w in zip(base17, weights, strict=True)) % 11]


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert cn_id_check_ok(with_check_digit("11010519880612341"))
    assert not cn_id_check_ok("110105198806123410") or not cn_id_check_ok("110105198806123411")
    assert iban_ok("DE89 3704 0044 0532 0130 00") and not iban_ok("DE89 3704 0044 0532 0130 01")


@pytest.mark.parametrize(("text", "kind", "span"), [
    ("我手机号13812345678，有事打给我", "phone", "13812345678"),
    ("电话 +86 137 9876 5432", "phone", "+86 137 9876 5432"),
    ("My cell is (415) 555-0198", "phone", "(415) 555-0198"),
    ("UK: +44 20 7946 0958", "phone", "+44 20 7946 0958"),
    ("call me: 020 7946 0018", "phone", "020 7946 0018"),
    ("座机 010-62345678", "phone", "010-62345678"),
    ("邮箱zhang@163.com，发我", "email", "zhang@163.com"),
    ("护照号是E12345678", "passport", "E12345678"),
    ("passport no. 533219876", "passport", "533219876"),
    ("卡号 6222 0212 3456 7890 123", "bank_card", "6222 0212 3456 7890 123"),
    ("IBAN DE89 3704 0044 0532 0130 00", "iban", "DE89 3704 0044 0532 0130 00"),
    ("SSN: 123-45-6789", "ssn", "123-45-6789"),
    (f"key {OPENAI_KEY}", "credential", OPENAI_KEY),
    (AWS_KEY_ID, "credential", AWS_KEY_ID),
    ("wifi 密码是 Team@2024!", "credential", "Team@2024!"),
    ("服务器root密码：Xk9#mP2q，", "credential", "Xk9#mP2q"),
    ("the db password is hunter2", "credential", "hunter2"),
    ("验证码是 482913", "credential", "482913"),
    ("the gate code is 4821", "credential", "4821"),
    ("BitLocker recovery key: 123456-234567-345678-456789-567890-678901-789012-890123", "credential",
     "123456-234567-345678-456789-567890-678901-789012-890123"),
    ("my backup codes 8841-2290 and 1123-5589", "credential", "8841-2290"),
    ("门禁码是 0412#", "credential", "0412#"),
    ("cvv 123 on the back", "credential", "123"),
    ("product key ABCDE-12345-FGHIJ-67890", "credential", "ABCDE-12345-FGHIJ-67890"),
    ("the password for the shared drive is bluebird42", "credential", "bluebird42"),
    ("my PIN for the Chase card is 4412", "credential", "4412"),
    ("the code to the back door is 5580", "credential", "5580"),
    ("wifi密码12345678", "credential", "12345678"),                          # glued to its keyword
    ("访客网络：名字Acme-5G，密码ac@2023guest，写进手册", "credential", "ac@2023guest"),
    ("corpsecret是xT7kP2mN9qR4vL8sW3yB6，为什么报错", "credential", "xT7kP2mN9qR4vL8sW3yB6"),
    ("AppSecret: 9fK2mQ7xLp3Z", "credential", "9fK2mQ7xLp3Z"),                 # a key name with a prefix
    ("备用码记在这：482917、630284", "credential", "482917"),                   # a few words, then a colon
    ("加我微信 zhang_wei_88", "messenger", "zhang_wei_88"),
    ("车牌京A·12345", "plate", "京A·12345"),
    ("742 Evergreen Terrace, Springfield", "address", "742 Evergreen Terrace"),
    ("生日是1990年5月3日", "birth_date", "1990年5月3日"),
])
def test_identifiers_are_found_with_their_span(text: str, kind: str, span: str) -> None:
    found = [(f.kind, text[f.start:f.end]) for f in scan(text)]
    assert (kind, span) in found


def test_chinese_id_check_digit_raises_confidence_but_never_clears() -> None:
    good = with_check_digit("44030619920315502")
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    [strong] = [f for f in scan(f"身份证{good}") if f.kind == "id_card"]
    [weak] = [f for f in scan(f"证件 {bad}") if f.kind == "id_card"]
    assert strong.kind == weak.kind == "id_card"
    assert strong.confidence > weak.confidence >= 0.5


@pytest.mark.parametrize("text", [
    "我上周确诊了糖尿病", "今天请病假，昨晚发烧到39度", "I was diagnosed with ADHD last month",
    "my dad's cancer treatment starts Monday", "我老婆怀孕三个月了", "阳了，居家办公三天",
])
def test_health_said_in_words(text: str) -> None:
    assert "health" in kinds(text)


@pytest.mark.parametrize("text", [
    "我现在月薪25k", "税前工资18000", "I make $145k base", "我的工资比同事低", "年终奖发了4万",
])
def test_salary_with_an_amount_or_a_person(text: str) -> None:
    assert "salary" in kinds(text)


@pytest.mark.parametrize("text", [
    "张伟和李娜负责这次的发布", "Tell Wang Fang the slides look great",        # names are not private
    "订单号 20240315123456789 一直显示待发货", "工单 #13812345678 的状态更新一下",  # references, not people
    "v2.13.8 版本什么时候发布", "会议改到 2024-03-15 14:30", "build 20240612.3 failed",
    "客服热线 400-820-8820 打不通", "Our support line is 1-800-555-0199",
    "我们的密码策略要求至少12位", "the password field should be masked", "password is required error",
    "set max_tokens = 4096", "token bucket vs leaky bucket?", "密码是什么",
    "backup codes are printed on the sheet", "what is a recovery key?", "license key is required",
    "the password for the shared drive is on the wiki", "the code for the new feature is in the repo",
    "the secret to a good sourdough is patience",
    'access_token = response.json()["access_token"]', "token = request.headers",  # code that reads a secret
    "密码用SHA256加密存储", "密码最小长度：12", "密码过期时间：2024-12-31", "验证码有效期：300秒",
    "密码错误3次会锁定", "maxTokens = 4096",
    "这个岗位的薪资范围一般是多少", "the average salary in the report is 30k",
    "帮我诊断一下为什么这个接口这么慢", "线上服务内存泄漏，诊断结果是缓存没设过期", "对这个方案我不太感冒",
    "杀毒软件报了个病毒", "git@github.com:acme/infra.git clone fails", "校验 user@example.com 这种邮箱",
    "在3号楼会议室开会", "地铁10号线又延误了", "服务器IP是10.0.12.34，端口8080",
    "UUID 550e8400-e29b-41d4-a716-446655440000", "[Mon 2024-03-15 14:30 Asia/Shanghai] Alice: hi",
])
def test_hard_negatives_are_not_private(text: str) -> None:
    assert scan(text) == ()


def test_email_next_to_cjk_is_spanned_exactly() -> None:
    assert spans("联系方式：wangfang_1990@qq.com或者微信") == ["wangfang_1990@qq.com"]


def test_detector_cache_returns_the_same_findings() -> None:
    detector = PrivacyDetector(cache_size=2)
    text = "my number is 13812345678"
    assert detector.scan(text) == detector.scan(text) == scan(text)
    for other in ("a", "b", "c"):
        detector.scan(other)
    assert detector.scan(text) == scan(text)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_scan_never_fails_and_spans_lie_inside_the_text(text: str) -> None:
    for finding in scan(text):
        assert 0 <= finding.start <= finding.end <= len(text)


def test_redaction_replaces_and_restores_consistently() -> None:
    request = ModelRequest(messages=(
        ChatMessage("user", "text 13812345678 and 13812345678, mail a@b.io"),
        ChatMessage("assistant", "", tool_calls=(ToolCall("1", "sms", '{"to": "13812345678"}'),)),
    ))
    redaction = redact(request, scan)
    assert redaction.request.messages[0].content == "text ⟨PHONE_1⟩ and ⟨PHONE_1⟩, mail ⟨EMAIL_1⟩"
    assert redaction.request.messages[1].tool_calls[0].arguments == '{"to": "⟨PHONE_1⟩"}'
    answer = ModelResponse(text="ok <PHONE_1>, EMAIL_1", tool_calls=(ToolCall("2", "mail", '{"to": "⟨EMAIL_1⟩"}'),))
    restored = restore(answer, redaction.originals)
    assert restored.text == "ok 13812345678, a@b.io"
    assert json.loads(restored.tool_calls[0].arguments) == {"to": "a@b.io"}
    assert can_redact(scan("call 13812345678")) and not can_redact(scan("I was diagnosed with asthma"))


def _labelled() -> list[dict[str, object]]:
    return [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_labelled_set_is_large_mixed_and_has_hard_negatives() -> None:
    rows = _labelled()
    assert len(rows) >= 300
    assert {r["lang"] for r in rows} >= {"zh", "en"}
    assert sum(1 for r in rows if r["private"]) >= 100
    assert sum(1 for r in rows if str(r.get("note", "")).startswith("hard negative")) >= 50
    assert {r["difficulty"] for r in rows} == {"easy", "hard"}


def test_privacy_recall_is_complete_on_the_labelled_set() -> None:
    rows = _labelled()
    missed = [r["text"] for r in rows if r["private"] and not scan(str(r["text"]))]
    assert missed == []
    flagged = [r for r in rows if scan(str(r["text"]))]
    precision = sum(1 for r in flagged if r["private"]) / len(flagged)
    assert precision > 0.9
