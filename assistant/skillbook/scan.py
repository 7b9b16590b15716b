"""The skill scanner: flags instructions in a skill folder that try to move data out or widen permissions.

A skill is text the model will follow, so the danger is in what it asks for: send data to a URL, pipe a download
into a shell, read other members' memory or files, dump the environment or secrets, change permissions or tell the
model to ignore its rules. The scanner is a tripwire, not a proof of safety: a flagged skill needs an admin and
``--force``; an unflagged one still needs approval before it is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Finding", "scan_skill", "scan_text"]

_MAX_SCAN_BYTES = 512_000
_TEXT_SUFFIXES = {"", ".md", ".txt", ".sh", ".py", ".js", ".ts", ".json", ".yaml", ".yml", ".toml", ".ps1", ".rb"}


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    file: str
    line: int
    excerpt: str

    def describe(self) -> str:
        return f"{self.file}:{self.line}: {self.rule}: {self.excerpt}"


_I = re.IGNORECASE
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("downloads and runs code (pipe into a shell)", re.compile(
        r"\b(curl|wget|iwr|invoke-webrequest|fetch)\b[^\n]*\|\s*(sudo\s+)?(ba|z|da|k|fi)?sh\b"
        r"|\b(curl|wget)\b[^\n]*\|\s*(python\d?|node|perl|ruby|iex)\b"
        r"|\b(bash|sh)\s+<\(\s*(curl|wget)", _I)),
    ("sends data to an outside address", re.compile(
        r"\b(send|post|upload|forward|submit|transmit|exfiltrat\w*|leak|beacon|report|copy|mirror)\b[^\n]{0,100}"
        r"\b(https?://|webhook|pastebin|ngrok|requestbin|discord\.com/api/webhooks)"
        r"|\bcurl\b[^\n]*\s(-d|--data\S*|-F|--form|-T|--upload-file)\s"
        r"|\bwget\b[^\n]*--post-(data|file)"
        r"|https?://\S*[?&](data|token|key|secret|env|payload|content)=", _I)),
    ("reads other members' data", re.compile(
        r"\b(other|all|every|another)\s+(team\s+)?(members?|users?|people|person)('s|s'|')?\b[^\n]{0,60}"
        r"\b(memor\w*|notes?|files?|workspaces?|private|histor\w*|conversations?|dms?|direct messages?)"
        r"|\bmembers/(\*|\d+|\.\.)|\bworkspace/members/(?!\{?(me|self|own))"
        r"|\b(memory|memories)\s+(of|from|belonging to)\s+(other|another|all|every)\b", _I)),
    ("dumps environment variables or secrets", re.compile(
        r"\b(printenv|os\.environ|process\.env|getenv\s*\()|(^|[\s;|&`(])(env|set|export\s+-p)\s*($|[|>;])"
        r"|\$\{?[A-Z0-9_]*(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)\b"
        r"|\b(print|reveal|dump|show|output|list|send|share|include|echo|cat)\b[^\n]{0,50}"
        r"\b(api[_ -]?keys?|access[_ -]?tokens?|secrets?|passwords?|credentials?|environment variables|"
        r"private keys?|bot tokens?)\b"
        r"|teamclaw\.toml|(^|[\s/])\.env\b|\.ssh/|\bid_(rsa|ed25519)\b|/etc/(passwd|shadow)", _I)),
    ("changes permissions or overrides the rules", re.compile(
        r"\b(chmod|chown|sudo|setuid|visudo|setcap)\b"
        r"|\b(grant|give|make|add|promote|elevate)\b[^\n]{0,50}\b(admin|owner|root|shell_members|permissions?|"
        r"allowlist|allowed[_ ]tools|superuser)\b"
        r"|\b(ignore|disregard|override|bypass|forget|skip|disable)\b[^\n]{0,50}\b(previous|prior|above|system|"
        r"safety|permissions?|instructions|rules|approvals?|guardrails?|restrictions?)\b"
        r"|(^|\s)/approve\b|\bshell_(enabled|members|allowlist)\b|allowed-tools:\s*[\"']?\*", _I)),
    ("hides an encoded payload", re.compile(
        r"\bbase64\s+(-d|--decode)\b|\b(atob|b64decode)\s*\(|[A-Za-z0-9+/]{200,}={0,2}", _I)),
)


def scan_text(text: str, file: str = "SKILL.md") -> list[Finding]:
    findings: list[Finding] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for rule, pattern in _RULES:
            match = pattern.search(line)
            if match:
                start = max(0, match.start() - 20)
                excerpt = " ".join(line[start:match.end() + 20].split())
                findings.append(Finding(rule, file, number, excerpt[:120]))
    return findings


def scan_skill(folder: Path) -> list[Finding]:
    """Scan every text file of a skill folder (binary and oversized files are reported, not read)."""
    findings: list[Finding] = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            findings.append(Finding("contains a symbolic link", path.relative_to(folder).as_posix(), 0, ""))
            continue
        if not path.is_file():
            continue
        rel = path.relative_to(folder).as_posix()
        if path.suffix.lower() not in _TEXT_SUFFIXES:
            findings.append(Finding("contains a file that cannot be reviewed as text", rel, 0, path.suffix))
            continue
        if path.stat().st_size > _MAX_SCAN_BYTES:
            findings.append(Finding("contains a file too large to review", rel, 0, f"{path.stat().st_size} bytes"))
            continue
        findings.extend(scan_text(path.read_text(encoding="utf-8", errors="replace"), rel))
    return findings
