#!/usr/bin/env bash
# Run the whole test suite: `scripts/test.sh [pytest args]`. Starts a virtual X server when there
# is no display, so the Qt and QtWebEngine tests run on headless machines (CI) too.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ROOT"
if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null; then
    exec xvfb-run -a -s "-screen 0 1920x1080x24" "$VENV/bin/python" -m pytest "$@"
fi
exec "$VENV/bin/python" -m pytest "$@"
