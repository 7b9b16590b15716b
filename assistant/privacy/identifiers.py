"""Detectors for personal identifiers that have a shape: phone, ID card, passport, card, IBAN, e-mail, keys.

Every pattern is compiled once at import. Character classes are ASCII on purpose: ``\\b`` and ``\\w`` treat CJK
as word characters, so "邮箱x@163.com" or "电话13812345678" would be mis-spanned or missed with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from assistant.privacy.checksums import cn_id_check_ok, iban_ok, luhn_ok
from assistant.privacy.finding import Finding

__all__ = ["IDENTIFIER_DETECTORS"]

# Words just before a number that make it a reference of a thing, not of a person.
_REFERENCE_WORDS = re.compile(
    r"(订单|单号|编号|工单|流水|交易号|快递|运单|发票|批次|版本|序列号|型号|票号|"
    r"order|tracking|ticket|invoice|issue|build|version|serial|sku|ref|txn|transaction|commit|sha|hash|"
    r"pr\b|#)[^\n]{0,6}$",
    re.IGNORECASE,
)
_PHONE_WORDS = re.compile(
    r"(电话|手机|联系|致电|打给|拨打|号码|热线|tel|phone|call|mobile|cell|whatsapp|sms|text me|reach me|"
    r"(?:my|his|her|your|contact|home|work) number)"
    r"[^\n]{0,12}$",
    re.IGNORECASE,
)
_HOTLINE_PREFIXES = ("800", "888", "877", "866", "855", "844", "833")
_NOT_DIGIT_BEFORE = r"(?<![0-9A-Za-z.\-/_])"
_NOT_DIGIT_AFTER = r"(?![0-9A-Za-z\-/_]|\.\d)"

_CN_MOBILE = re.compile(
    _NOT_DIGIT_BEFORE + r"(?:(?:\+|00)?86[\s\-]?)?1[3-9]\d(?:[\s\-]?\d{4}){2}" + _NOT_DIGIT_AFTER
)
_CN_LANDLINE = re.compile(_NOT_DIGIT_BEFORE + r"\(?0\d{2,3}\)?[\s\-]\d{7,8}" + _NOT_DIGIT_AFTER)
_INTL = re.compile(r"(?<![0-9A-Za-z])\+\d{1,3}[\s\-]?\(?\d{1,4}\)?(?:[\s\-]?\d{2,5}){2,4}" + _NOT_DIGIT_AFTER)
_US = re.compile(_NOT_DIGIT_BEFORE + r"(?:\(\d{3}\)\s?|\d{3}[\-.\s])\d{3}[\-.\s]\d{4}" + _NOT_DIGIT_AFTER)
_DIGIT_GROUPS = re.compile(_NOT_DIGIT_BEFORE + r"[+(]?\d[\d\s\-().]{5,20}\d" + _NOT_DIGIT_AFTER)

_CN_ID = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])"
)
_ID_CONTEXT = re.compile(
    r"(?=[身证居iInNhH港台回])(身份证|证件号|居民身份|身份号|id card|id number|identity card|national id|hkid|hk id|"
    r"港澳|台胞|"
    r"回乡证)"
    r"(?:号码|号|number|no\.?)?[^\n0-9A-Za-z]{0,6}([A-Za-z0-9*()（）]{6,20})",
    re.IGNORECASE,
)
_CN_PASSPORT = re.compile(r"(?<![0-9A-Za-z])(?:[EG]\d{8}|E[A-HJ-NP-Z]\d{7})(?![0-9A-Za-z])", re.IGNORECASE)
_PASSPORT_CONTEXT = re.compile(
    r"(护照|passport|通行证)\s*(?:号码|号|number|no\.?|#)?[^\n0-9A-Za-z]{0,6}([A-Za-z]{0,2}\d{6,9})(?![0-9A-Za-z])",
    re.IGNORECASE,
)
_CARD = re.compile(_NOT_DIGIT_BEFORE + r"\d(?:[ \-]?\d){12,18}" + _NOT_DIGIT_AFTER)
_CARD_CONTEXT = re.compile(
    r"(卡号|银行卡|信用卡|借记卡|储蓄卡|账号|账户|帐号|帐户|card|account|acct|visa|mastercard|amex|unionpay|银联)",
    re.IGNORECASE,
)
# Issuer prefixes of the big card networks: Visa, Mastercard, Amex, Discover, JCB, UnionPay.
_CARD_ISSUER = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|6011|65|35|62)")
_ACCOUNT_CONTEXT = re.compile(
    r"(?=[卡银账帐收cCaArR])(卡号|银行卡号?|银行账号|账号|帐号|收款账户|card number|account number|acct\.? no\.?|"
    r"routing number)"
    r"[^\n0-9]{0,6}(\d[\d \-]{8,26}\d)",
    re.IGNORECASE,
)
_IBAN = re.compile(r"(?<![0-9A-Za-z])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![0-9A-Za-z])")
_SSN = re.compile(r"(?<![0-9A-Za-z\-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![0-9A-Za-z\-])")
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![A-Za-z0-9])"
)
# Addresses that are documentation, not people: RFC 2606 names and the git transport user.
_PLACEHOLDER_EMAIL = re.compile(
    r"(@(?:[a-z0-9\-]+\.)*(?:example|test|invalid|localhost)(?:\.[a-z]{2,})?$)|(^git@)|(^(?:user|name|foo|bar)"
    r"@(?:domain|company|email|host|xxx)\.)",
    re.IGNORECASE,
)
_MESSENGER = re.compile(
    r"(?=[微wWvVqQtTlL钉])(微信号?|wechat(?: id)?|weixin|vx|qq号?|telegram|whatsapp|line id|钉钉号?)\s*(?:号|id|"
    r"handle)?\s*"
    r"(?:是|为|:|：|=|is)?\s*(@?[A-Za-z][A-Za-z0-9_\-]{4,24}|\d{5,12})(?![A-Za-z0-9_\-])",
    re.IGNORECASE,
)
_PLATE = re.compile(
    r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Z]"
    r"[·\s]?[A-HJ-NP-Z0-9]{5,6}(?![A-Za-z0-9])"
)

# (literal every match contains, pattern): the literal is checked first with a plain substring search, so a text
# without it costs nothing.
_TOKEN_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("sk-", re.compile(r"(?<![A-Za-z0-9])sk-(?:proj-|ant-(?:api\d\d-)?|live_|test_)?[A-Za-z0-9_\-]{20,}")),
    ("AKIA", re.compile(r"(?<![A-Za-z0-9])AKIA[0-9A-Z]{16}(?![0-9A-Z])")),
    ("ASIA", re.compile(r"(?<![A-Za-z0-9])ASIA[0-9A-Z]{16}(?![0-9A-Z])")),
    ("gh", re.compile(r"(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9]{30,}")),
    ("github_pat_", re.compile(r"(?<![A-Za-z0-9])github_pat_[A-Za-z0-9_]{30,}")),
    ("glpat-", re.compile(r"(?<![A-Za-z0-9])glpat-[A-Za-z0-9_\-]{20,}")),
    ("xox", re.compile(r"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9\-]{10,}")),
    ("AIza", re.compile(r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_\-]{35}")),
    ("k_", re.compile(r"(?<![A-Za-z0-9])(?:rk|pk|sk)_(?:live|test)_[A-Za-z0-9]{16,}")),
    ("eyJ", re.compile(r"(?<![A-Za-z0-9])eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")),
    ("PRIVATE KEY", re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----")),
    ("earer", re.compile(r"(?i)(?<![A-Za-z])bearer\s+[A-Za-z0-9._~+/\-]{16,}=*")),
    ("://", re.compile(
        r"(?i)(?:https?|ftp|mysql|postgres(?:ql)?|redis|mongodb(?:\+srv)?|amqp)"
        r"://[^\s:/@]+:[^\s@/]{3,}@"
    )),
)
# Codes that open something (a door, a safe, an account's recovery) are credentials as much as passwords are:
# "the gate code is 4821", "BitLocker recovery key: 123456-...", "backup codes 8841-2290", "门禁码是 0412#".
_CODE_WORDS = (r"(?:door|gate|alarm|garage|lock|locker|safe|access|entry|entrance|security|building|unlock|"
               r"backup|recovery|2fa|mfa|cvv|cvc|puk|sim)[_\- ]?(?:codes?|keys?|pins?)|cvv2?|cvc2?|puk|"
               r"passphrase|seed phrase|recovery phrase|licen[cs]e key|product key|activation key")
_SECRET_ASSIGNMENT = re.compile(
    r"(?i)(?=[aAbBcCdDeEgGlLmMoOpPrRsStTuUvV2口密秘验门恢备取助激])((?<![A-Za-z])(?:api[_\- ]?key|secret[_\- ]?key|"
    r"app[_\- ]?secret|client[_\- ]?secret|access[_\- ]?token|"
    r"auth[_\- ]?token|access[_\- ]?key|private[_\- ]?key|" + _CODE_WORDS + r"|token|secret|passwd|password|"
    r"passcode|pwd|pin(?:码)?|verification code|one[- ]time code|otp|"
    r"code(?=\s+(?:to|for)\s+(?:the\s+|my\s+|our\s+|his\s+|her\s+)?(?:[a-z]+\s+)?(?:door|gate|garage|safe|"
    r"locker|alarm|building|house|apartment|flat|office|lock)\b))|口令|密码|密钥|秘钥|验证码|门禁码|门锁码|"
    r"开门码|恢复密钥|恢复码|备用码|取件码|助记词|激活码)"
    # "the password for the shared drive is ...", "my PIN for the card is ...": what it opens, then the value.
    r"(?:\s+(?:for|to|of|on)\s+[^\s:：=,.]+(?:\s+[^\s:：=,.]+){0,3}?(?=\s+(?:is|was|are|were)\s|\s*[:：=]))?"
    r"(?:\s*(?:is|was|are|were|:|=|：|是|为|改成了?|改为|设成了?|设为)\s*|\s+)[\"'“‘`]?"
    r"([^\s\"'”’`，,。；;、)）]{3,64})"
)
# Words that follow "password is ..." in talk about passwords rather than in a password.
_NOT_A_SECRET = frozenset(
    """required wrong incorrect invalid expired empty missing correct strong weak too not the a an of to and or in
    on for with without must should will can cannot can't does doesn't isn't is was be being been case-sensitive
    reset changed change updated stored hashed encrypted saved set needed needs policy policies rules rule length
    minimum maximum at least same different your my our their his her its this that these those what which how
    where when who why here there null none nil undefined true false hidden masked redacted protected secure
    insecure unknown please manager field fields input box prompt dialog screen page form validation complexity
    rotation expiry expiration reuse hint hints recovery sharing shared leaked compromised login manual automatic
    check checks configured generated provided below above shown following like such 不对 错误""".split()
)
# A key named in code or config with a prefix of its own ("corpsecret", "AppSecret", "clientSecret", "refreshToken";
# "DB_PASSWORD" and "api_key" already match above): the value must look like one, letters and digits, no dots.
_NAMED_KEY = re.compile(
    r"(?<![A-Za-z0-9_])([A-Za-z][A-Za-z0-9]{1,15}(?i:secret|token|passwd|password))"
    r"\s*(?:[:=：]|是|为|(?i:is))\s*[\"'“‘`]?([A-Za-z0-9+/_\-=@#!$%^&*~]{8,128})(?![A-Za-z0-9.])"
)
# Chinese writes a value right after its keyword ("WiFi密码tc@2024office", "验证码4821"), or after a few words and a
# colon ("备用码记在这：482917"); the value is then ASCII and starts with a letter or digit. Talk about a password's
# rules or dates ("密码最小长度：8", "密码过期时间：2024-12-31") is not a value.
_CJK_KEYWORD = r"(口令|密码|密钥|秘钥|验证码|门禁码|门锁码|开门码|恢复密钥|恢复码|备用码|取件码|激活码)"
_GLUED_SECRET = re.compile(
    _CJK_KEYWORD + r"(?:([\u4e00-\u9fff]{1,8}?)[:：]\s*)?([A-Za-z0-9][A-Za-z0-9@#$%^&*!_+\-=/~.]{2,63})"
)
_ABOUT_THE_RULES = re.compile(r"长度|位数|次数|规则|要求|策略|格式|示例|例如|时间|日期|有效期|强度|复杂度|加密|算法")
# Hash and cipher names next to "密码" ("密码用SHA256加密", "密码MD5") name a method, not a value.
_ALGORITHM = re.compile(r"(?i)^(?:md5|sha-?(?:1|224|256|384|512)|bcrypt|scrypt|argon2(?:id|i|d)?|pbkdf2|aes-?\d*|"
                        r"rsa-?\d*|des|3des|sm[234]|hmac\S*)$")
# A value that is a call, an index or a dotted name is code that reads a secret, not the secret
# ("access_token = response.json()[...]", "token = request.headers").
_CODE_REFERENCE = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?:\(|\[|$)")
_PLACEHOLDER_SECRET = re.compile(
    r"(?i)^(?:x{3,}|\*{3,}|\.{3,}|<[^>]*>?|\{\{.*|\$\{.*|\$[A-Z_]+|%.*%|your[_\-].*|my[_\-].*|os\.environ.*|"
    r"process\.env.*|env\(.*|getenv.*|settings\..*|config\..*|placeholder|example|sample|dummy|changeme_later|"
    r"\[redacted\]|redacted|none|null|\*+|…+)$"
)


def _before(text: str, start: int, width: int = 16) -> str:
    return text[max(0, start - width):start]


def _is_reference(text: str, start: int) -> bool:
    """The number is preceded by an order/ticket/version word and by no phone word."""
    before = _before(text, start)
    return bool(_REFERENCE_WORDS.search(before)) and not _PHONE_WORDS.search(before)


def _is_hotline(digits: str) -> bool:
    """Company service numbers (400/800 in China, toll-free in North America) are printed on every box."""
    return digits.lstrip("1").startswith(_HOTLINE_PREFIXES) or digits.startswith(("400", "800"))


def _phones(text: str) -> Iterator[Finding]:
    for m in _CN_MOBILE.finditer(text):
        if not _is_reference(text, m.start()):
            yield Finding("phone", m.start(), m.end(), 0.95)
    for m in _CN_LANDLINE.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        # 400/800 numbers are company hotlines, printed on every box: not a person's number.
        if _is_hotline(digits) or _is_reference(text, m.start()):
            continue
        yield Finding("phone", m.start(), m.end(), 0.8)
    for m in _INTL.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 8 <= len(digits) <= 15 and not _is_reference(text, m.start()):
            yield Finding("phone", m.start(), m.end(), 0.9)
    for m in _US.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if digits[0] in "01" or _is_hotline(digits):
            continue
        if not _is_reference(text, m.start()):
            yield Finding("phone", m.start(), m.end(), 0.8)
    for m in _DIGIT_GROUPS.finditer(text):
        # Digits in any grouping are a phone number when the words before say so ("call me: 020 7946 0018").
        digits = re.sub(r"\D", "", m.group())
        if 7 <= len(digits) <= 15 and not _is_hotline(digits) and _PHONE_WORDS.search(_before(text, m.start(), 14)):
            yield Finding("phone", m.start(), m.end(), 0.7)


def _id_cards(text: str) -> Iterator[Finding]:
    for m in _CN_ID.finditer(text):
        if cn_id_check_ok(m.group()):
            yield Finding("id_card", m.start(), m.end(), 0.99)
        elif not _is_reference(text, m.start()):
            yield Finding("id_card", m.start(), m.end(), 0.75)
    for m in _ID_CONTEXT.finditer(text):
        value = m.group(2)
        if sum(ch.isdigit() for ch in value) >= 4:
            yield Finding("id_card", m.start(2), m.end(2), 0.85)


def _passports(text: str) -> Iterator[Finding]:
    for m in _CN_PASSPORT.finditer(text):
        if not _is_reference(text, m.start()):
            yield Finding("passport", m.start(), m.end(), 0.8)
    for m in _PASSPORT_CONTEXT.finditer(text):
        yield Finding("passport", m.start(2), m.end(2), 0.9)


def _cards(text: str) -> Iterator[Finding]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if not 13 <= len(digits) <= 19 or not luhn_ok(digits):
            continue
        context = bool(_CARD_CONTEXT.search(_before(text, m.start(), 20)))
        if context or (_CARD_ISSUER.match(digits) and not _is_reference(text, m.start())):
            yield Finding("bank_card", m.start(), m.end(), 0.95 if context else 0.8)
    for m in _ACCOUNT_CONTEXT.finditer(text):
        yield Finding("bank_card", m.start(2), m.end(2), 0.85)
    for m in _IBAN.finditer(text):
        if iban_ok(m.group()):
            yield Finding("iban", m.start(), m.end(), 0.97)


def _ssns(text: str) -> Iterator[Finding]:
    for m in _SSN.finditer(text):
        yield Finding("ssn", m.start(), m.end(), 0.8)


_SPELLED_EMAIL = re.compile(
    r"(?i)(?<![A-Za-z0-9._\-])[A-Za-z0-9][A-Za-z0-9._\-]*\s*(?:\(at\)|\[at\]|\sat\s)\s*[A-Za-z0-9\-]+"
    r"\s*(?:\(dot\)|\[dot\]|\sdot\s)\s*(?:com|cn|net|org|io|edu|gov|de|uk|jp|co)(?![A-Za-z])"
)


def _emails(text: str) -> Iterator[Finding]:
    for m in _SPELLED_EMAIL.finditer(text):  # "zhang at gmail dot com", written to dodge scrapers
        yield Finding("email", m.start(), m.end(), 0.85)
    if "@" not in text:
        return
    for m in _EMAIL.finditer(text):
        if not _PLACEHOLDER_EMAIL.search(m.group()):
            yield Finding("email", m.start(), m.end(), 0.95)


def _messengers(text: str) -> Iterator[Finding]:
    for m in _MESSENGER.finditer(text):
        yield Finding("messenger", m.start(2), m.end(2), 0.8)


def _plates(text: str) -> Iterator[Finding]:
    for m in _PLATE.finditer(text):
        if sum(ch.isdigit() for ch in m.group()) >= 2:
            yield Finding("plate", m.start(), m.end(), 0.8)


def _secret_value_ok(value: str) -> bool:
    lowered = value.lower().rstrip(".!?")
    if lowered in _NOT_A_SECRET or _PLACEHOLDER_SECRET.match(value) or _ALGORITHM.match(value):
        return False
    if ("(" in value or "[" in value or "." in value) and _CODE_REFERENCE.match(value):
        return False
    if not any(ch.isascii() and ch.isalnum() for ch in value):
        return False  # "密码是什么", "password：忘了": no value given
    has_digit = any(ch.isdigit() for ch in value)
    has_alpha = any(ch.isalpha() for ch in value)
    has_symbol = any(not ch.isalnum() for ch in value)
    return has_digit or has_symbol or (has_alpha and len(value) >= 5)


_CODE_KEYWORDS = ("pin", "验证码", "verification", "one", "otp", "door", "gate", "alarm", "garage", "lock",
                  "safe", "entry", "entrance", "building", "unlock", "cvv", "cvc", "puk", "sim", "门", "取件",
                  "backup", "2fa", "mfa", "备用", "code")


def _code_digits(value: str) -> str:
    """The digits of a code written in groups ("8841-2290", "0412#"), or "" when it is not one."""
    digits = value.rstrip("#*").replace("-", "").replace(" ", "")
    return digits if digits.isdigit() else ""


def _fits_keyword(keyword: str, value: str) -> bool:
    """Codes are short digit runs (in groups, for backup codes); tokens, keys and secrets are long and never plain
    numbers ("max token = 4096"), except recovery keys, which are long digit groups."""
    if keyword.startswith(("recovery", "恢复")) and value.count("-") >= 3:
        return len(_code_digits(value)) >= 16
    if keyword.startswith(("cvv", "cvc")):
        return len(_code_digits(value)) in (3, 4)
    if keyword.startswith(_CODE_KEYWORDS):
        digits = _code_digits(value)
        return 3 <= len(digits) <= 12 if "-" in value else 4 <= len(digits) <= 8
    if keyword in ("token", "secret") or "token" in keyword or "key" in keyword or "密钥" in keyword:
        return len(value) >= 8 and not value.replace(",", "").replace(".", "").isdigit()
    return True


def _credentials(text: str) -> Iterator[Finding]:
    for literal, pattern in _TOKEN_PATTERNS:
        if literal not in text:
            continue
        for m in pattern.finditer(text):
            yield Finding("credential", m.start(), m.end(), 0.97)
    for m in _SECRET_ASSIGNMENT.finditer(text):
        value = m.group(2)
        separator = text[m.end(1):m.start(2)]
        bare_space = not separator.strip(" \t\"'“‘`")
        keyword = m.group(1).lower()
        if keyword == "secret" and value.isalpha() and re.match(r"\s+(?:to|of|for)\s", separator):
            continue  # "the secret to a good sourdough is patience": an idiom, not a value
        is_code = keyword.startswith(_CODE_KEYWORDS)
        mixed = any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
        if bare_space and not (mixed or (is_code and _code_digits(value))):
            continue  # "password manager", "token bucket": a noun phrase, not a value
        if _secret_value_ok(value) and _fits_keyword(keyword, value):
            yield Finding("credential", m.start(2), m.end(2), 0.85)
    lowered = text.lower()
    if "token" in lowered or "secret" in lowered or "passw" in lowered:
        for m in _NAMED_KEY.finditer(text):
            value = m.group(2)
            if any(c.isdigit() for c in value) and any(c.isalpha() for c in value) and _secret_value_ok(value):
                yield Finding("credential", m.start(2), m.end(2), 0.85)
    for m in _GLUED_SECRET.finditer(text):
        keyword, gap, value = m.group(1), m.group(2), m.group(3).rstrip(".")
        if gap is not None and _ABOUT_THE_RULES.search(gap):
            continue
        is_code = keyword.startswith(_CODE_KEYWORDS)
        if is_code:
            ok = _fits_keyword(keyword, value)
        else:
            # Glued to its keyword, a value of six characters or more with a digit or a symbol ("密码tc@2024office");
            # after a gap, letters and digits both (a date or a count alone is talk about the password).
            mixed = any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
            ok = len(value) >= 6 and (mixed if gap else not value.isalpha()) and _fits_keyword(keyword, value)
        if ok and _secret_value_ok(value):
            yield Finding("credential", m.start(3), m.start(3) + len(value), 0.85)


IDENTIFIER_DETECTORS = (_phones, _id_cards, _passports, _cards, _ssns, _emails, _messengers, _plates, _credentials)
