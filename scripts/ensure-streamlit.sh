#!/usr/bin/env bash
# Creates the project's Python venv (.venv, gitignored) with Streamlit and pytest for the
# Streamlit app test (tests/streamlit.test.ts → tests/streamlit_app_test.py). Idempotent.
# Streamlit is not in Debian's archive; pip must reach a package index. On machines of this kind
# pip is configured with a local mirror (file:///opt/pypi/simple); when it exists it is used
# alone, so pip does not spend minutes retrying an unreachable default index.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${GRID_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

if [ -x "$PY" ] && "$PY" -c 'import streamlit, pytest' >/dev/null 2>&1; then
  echo "streamlit present: $("$PY" -c 'import streamlit; print(streamlit.__version__)') in $VENV"
  exit 0
fi

python3 -m venv "$VENV"
INDEX=()
if [ -d /opt/pypi/simple ]; then
  INDEX=(--index-url file:///opt/pypi/simple)
fi
"$PY" -m pip install --disable-pip-version-check --retries 1 --timeout 20 "${INDEX[@]}" \
  'streamlit==1.64.0' 'pytest==9.1.1'
"$PY" -c 'import streamlit, pytest; print("streamlit", streamlit.__version__, "installed in", "'"$VENV"'")'
