"""The one exception tree of teamclaw; every error a user can see is one of these.

    TeamclawError
    ├── ConfigError              a key or value in teamclaw.toml is wrong (names the key and the fix)
    ├── StorageError             the database or vector store failed
    ├── ChannelError             a chat platform refused or failed
    │   ├── SendFailed
    │   ├── RateLimited          carries retry_after seconds
    │   ├── FileRefused          a file a member sent is too large or of a type not accepted (nothing stored)
    │   └── VerificationFailed   a webhook request failed signature / token / replay checks
    ├── ProviderError            a model endpoint failed
    │   ├── ProviderUnavailable  connection refused, 5xx after retries
    │   ├── ProviderTimeout
    │   ├── ProviderAuthError    401/403: never retried
    │   ├── ContextOverflow      the request does not fit the model's context window
    │   └── MalformedToolCall    the model's tool call could not be parsed
    ├── PrivacyViolation         a private request was about to leave for a cloud model
    │   └── NoLocalModel         a private request and no local model can take it (also a ProviderUnavailable)
    ├── BudgetExceeded
    ├── ScopeError               a read or write outside the caller's member scope
    ├── PermissionDenied         a member may not use this tool or command
    ├── ToolError                a tool failed (its message goes back to the model)
    ├── ScheduleError            a schedule could not be understood or is not allowed
    ├── MemoryError_             memory store failure (named with _ to avoid the builtin)
    └── SkillError
"""

from __future__ import annotations

__all__ = [
    "BudgetExceeded",
    "ChannelError",
    "ConfigError",
    "ContextOverflow",
    "FileRefused",
    "MalformedToolCall",
    "MemoryError_",
    "NoLocalModel",
    "PermissionDenied",
    "PrivacyViolation",
    "ProviderAuthError",
    "ProviderError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "ScheduleError",
    "ScopeError",
    "SendFailed",
    "SkillError",
    "StorageError",
    "TeamclawError",
    "ToolError",
    "VerificationFailed",
]


class TeamclawError(Exception):
    """Root of every teamclaw error. The message is written for the person who has to act on it."""


class ConfigError(TeamclawError):
    pass


class StorageError(TeamclawError):
    pass


class ChannelError(TeamclawError):
    pass


class SendFailed(ChannelError):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class RateLimited(ChannelError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FileRefused(ChannelError):
    """A file a member sent was not taken: ``reason`` is said to the member as it is (no internals in it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class VerificationFailed(ChannelError):
    pass


class ProviderError(TeamclawError):
    pass


class ProviderUnavailable(ProviderError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderTimeout(ProviderError):
    pass


class ProviderAuthError(ProviderError):
    pass


class ContextOverflow(ProviderError):
    pass


class MalformedToolCall(ProviderError):
    pass


class PrivacyViolation(TeamclawError):
    pass


class NoLocalModel(ProviderUnavailable, PrivacyViolation):
    """A request must stay on this machine (``reasons``: sensitive kinds found, or configuration) and no local
    model is configured or reachable. Nothing was sent; the member is told why and what to do."""

    def __init__(self, message: str, *, kinds: tuple[str, ...] = (), flags: tuple[str, ...] = (),
                 configured: bool = False) -> None:
        super().__init__(message)
        self.kinds = kinds
        self.flags = flags
        self.configured = configured  # a local model exists but did not answer


class BudgetExceeded(TeamclawError):
    pass


class ScopeError(TeamclawError):
    pass


class PermissionDenied(TeamclawError):
    pass


class ToolError(TeamclawError):
    pass


class ScheduleError(TeamclawError):
    pass


class MemoryError_(TeamclawError):
    pass


class SkillError(TeamclawError):
    pass
