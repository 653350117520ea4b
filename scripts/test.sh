#!/usr/bin/env bash
# Run the whole test suite: `scripts/test.sh [pytest args]`: ruff over the tree, mypy over the package (its files
# and settings are [tool.mypy] in pyproject.toml), then the tests twice
# (tests/test_import_contract.py guards the layers: the core never imports Qt, the window or the CLI):
# 1. every test in .venv (the dev install, newest packages), under a virtual X server when there is no
#    display, so the Qt and QtWebEngine tests run on headless machines (CI) too; among them
#    tests/test_installed_package.py builds the wheel, reinstalls it (--no-deps) into .venv-installed, a
#    venv of its own whose dependencies are installed here once, and runs it from outside the checkout;
# 2. the core and CLI tests (not tests/ui, which is all Qt, nor the installed package) in .venv-oldest:
#    what a user may have at the low end of pyproject.toml's ranges (constraints/oldest.txt pins onnx,
#    onnxruntime, onnx-graphsurgeon, onnxslim and numpy to their lowest allowed versions), without the dev extras.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ROOT"
OLDEST_VENV="$ROOT/.venv-oldest"
OLDEST_CONSTRAINTS="$ROOT/constraints/oldest.txt"
ensure_venv "$OLDEST_VENV" "$ROOT/pyproject.toml $OLDEST_CONSTRAINTS" -c "$OLDEST_CONSTRAINTS" -e "$ROOT" pytest
# A regular (not editable) install of the project, for its dependencies; the test replaces the app with the new wheel.
ensure_venv "$ROOT/.venv-installed" "$ROOT/pyproject.toml" "$ROOT"

status=0
echo "== lint (ruff), types (mypy) and the import contract" >&2
"$VENV/bin/ruff" check "$ROOT" || status=$?
"$VENV/bin/mypy" || status=$?

echo "== all tests, dev install ($VENV)" >&2
start=$SECONDS
if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null; then
    xvfb-run -a -s "-screen 0 1920x1080x24" "$VENV/bin/python" -m pytest "$@" || status=$?
else
    "$VENV/bin/python" -m pytest "$@" || status=$?
fi
echo "== dev install: $((SECONDS - start)) s" >&2

echo "== core and CLI tests, lowest supported versions ($OLDEST_VENV: $(paste -sd' ' "$OLDEST_CONSTRAINTS"))" >&2
start=$SECONDS
oldest_status=0
"$OLDEST_VENV/bin/python" -m pytest --ignore=tests/ui -m "not qt and not installed" "$@" || oldest_status=$?
echo "== lowest versions: $((SECONDS - start)) s" >&2
# 5 = nothing collected (arguments that name only Qt tests or the installed package): not a failure of this run.
[ "$oldest_status" = 5 ] || [ "$status" != 0 ] || status=$oldest_status
exit "$status"
