#!/usr/bin/env bash
# Makes .venv/ at the repository's root with python/requirements-dev.txt (Streamlit and this
# package, editable); does nothing when it is already there. `npm run setup:python` runs it, and
# .ci/run before the tests. --retries 0: an index that cannot be reached is passed over at once
# instead of being retried for minutes.
set -euo pipefail
cd "$(dirname "$0")"
if [ -x ../.venv/bin/python ] && ../.venv/bin/python -c 'import streamlit, y_server_state' 2>/dev/null; then
  exit 0
fi
python3 -m venv ../.venv
../.venv/bin/pip install --quiet --retries 0 --disable-pip-version-check -r requirements-dev.txt
../.venv/bin/python -c 'import streamlit, y_server_state; print("python: .venv ready, streamlit", streamlit.__version__)'
