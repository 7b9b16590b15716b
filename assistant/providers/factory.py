"""Builds a model provider from its ``[models.NAME]`` section: a plain table from provider kind to constructor."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from assistant.config import ModelConfig
from assistant.errors import ConfigError
from assistant.providers.anthropic import AnthropicProvider
from assistant.providers.base import ModelProvider
from assistant.providers.local import LocalModelProvider
from assistant.providers.openai import OpenAIProvider

__all__ = ["PROVIDER_KINDS", "ProviderFactory", "build_provider"]

ProviderFactory = Callable[[str, ModelConfig], ModelProvider]

# Adding a wire format is one module with complete/stream/aclose, one line here and one Literal in
# ModelConfig.provider (see docs/providers.md).
PROVIDER_KINDS: Mapping[str, ProviderFactory] = MappingProxyType(
    {
        "openai": OpenAIProvider,
        "anthropic": AnthropicProvider,
        "local": LocalModelProvider,
    }
)


def build_provider(name: str, cfg: ModelConfig) -> ModelProvider:
    """The provider for model ``name``; it owns its HTTP client (or model) until ``aclose()``."""
    factory = PROVIDER_KINDS.get(cfg.provider)
    if factory is None:
        kinds = ", ".join(sorted(PROVIDER_KINDS))
        raise ConfigError(f"models.{name}.provider = {cfg.provider!r} is not a provider kind: use one of {kinds}")
    return factory(name, cfg)
