#!/usr/bin/env bash
# Run the whole test suite: `scripts/test.sh [pytest args]`: ruff over the tree, mypy over the package (its files
# and settings are [tool.mypy] in pyproject.toml), import-linter over the layers (pyproject.toml's
# [tool.importlinter]: the core never imports Qt, the window or the CLI, and inside the core every package imports
# only the ones below it), then the tests in three environments:
# 1. every test in .venv (the dev install, newest packages), under a virtual X server when there is no
#    display, so the Qt and QtWebEngine tests run on headless machines (CI) too; among them
#    tests/test_installed_package.py builds the wheel, reinstalls it (--no-deps) into .venv-installed, a
#    venv of its own whose dependencies are installed here once, and runs it from outside the checkout;
# 2. the core and CLI tests in .venv-mixed (not tests/ui, which is all Qt, nor the installed package, nor
#    tests/corpus, which checks the committed models against their catalogue: the test data, not the product,
#    checked once in pass 1): the lowest versions pyproject.toml allows (constraints/oldest.txt: onnxruntime,
#    onnx-graphsurgeon, onnxslim, numpy) beside the newest onnx, without the dev extras. That mixed pair is what
#    many users have, and the one that breaks: the newest onnx stamps its own IR version on every model it makes,
#    which the oldest onnxruntime refuses ("Unsupported model IR version: 14, max supported IR version: 13");
# 3. the tests of the code that talks to onnx itself (loading, weight-free reads, external data, the
#    graph tools and fixes, IR versions) in .venv-oldest, where onnx too is at its lowest (onnx 1.16).
# Why not the whole core and CLI suite a third time: the suite must stay fast, and what the lowest onnx adds
# over the mixed pass is onnx's own API (its external-data helpers, checker and version converter), which
# those tests exercise; everything else already ran at the low end of every other range in pass 2.
# Each pass spreads its tests over pytest-xdist workers, one per core (`-n auto`; TEST_WORKERS=N sets the number);
# --dist loadfile keeps a test file on one worker, so its module-scoped fixtures (models loaded and shapes suggested
# once, engines built once) are made once. The passes run one after the other: run side by side (4 workers on 2
# cores) a sample of two passes took 109 and 137 s against 101 and 96 s in turn (2026-12-04).
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ROOT"
OLDEST_VENV="$ROOT/.venv-oldest"
MIXED_VENV="$ROOT/.venv-mixed"
OLDEST_CONSTRAINTS="$ROOT/constraints/oldest.txt"
ONNX_FACING_TESTS=(tests/core/model tests/core/fixes tests/core/compare/test_onnxruntime_versions.py)
ensure_venv "$OLDEST_VENV" "$ROOT/pyproject.toml $OLDEST_CONSTRAINTS" -c "$OLDEST_CONSTRAINTS" -e "$ROOT" pytest pytest-xdist
MIXED_CONSTRAINTS="$(mktemp)"
trap 'rm -f "$MIXED_CONSTRAINTS"' EXIT
grep -v '^onnx==' "$OLDEST_CONSTRAINTS" >"$MIXED_CONSTRAINTS"  # onnx: the newest release pip finds
ensure_venv "$MIXED_VENV" "$ROOT/pyproject.toml $OLDEST_CONSTRAINTS" -c "$MIXED_CONSTRAINTS" -e "$ROOT" pytest pytest-xdist
# A regular (not editable) install of the project, for its dependencies; the test replaces the app with the new wheel.
ensure_venv "$ROOT/.venv-installed" "$ROOT/pyproject.toml" "$ROOT"

WORKERS=(-n "${TEST_WORKERS:-auto}" --dist loadfile)
status=0
echo "== lint (ruff), types (mypy) and the import contracts (import-linter)" >&2
"$VENV/bin/ruff" check "$ROOT" || status=$?
"$VENV/bin/mypy" || status=$?
# --no-cache: no .import_linter_cache folder in the checkout; the whole graph takes ~2 s to build.
(cd "$ROOT" && PYTHONPATH="$ROOT" "$VENV/bin/lint-imports" --no-cache) || status=$?

echo "== all tests, dev install ($VENV)" >&2
start=$SECONDS
if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null; then
    # A virtual X server has no GPU: Qt would composite every graph view through OpenGL rasterised by Mesa's
    # llvmpipe, a third of the window tests' CPU time. Qt Quick's software backend draws the same pixels without it
    # (2026-12-04: two UI test files, 23 CPU-s with llvmpipe, 15 without).
    QT_QUICK_BACKEND=software xvfb-run -a -s "-screen 0 1920x1080x24" "$VENV/bin/python" -m pytest "${WORKERS[@]}" "$@" || status=$?
else
    "$VENV/bin/python" -m pytest "${WORKERS[@]}" "$@" || status=$?
fi
echo "== dev install: $((SECONDS - start)) s" >&2

# 5 = nothing collected (arguments that name only Qt tests or the installed package): not a failure of a pass.
run_pass() {  # run_pass LABEL VENV PYTEST-ARGS…
    local label="$1" venv="$2" start=$SECONDS pass_status=0
    shift 2
    echo "== $label ($venv: $("$venv/bin/python" -c "$VERSIONS"))" >&2
    "$venv/bin/python" -m pytest "${WORKERS[@]}" --ignore=tests/ui --ignore=tests/corpus -m "not qt and not installed" "$@" || pass_status=$?
    echo "== $label: $((SECONDS - start)) s" >&2
    [ "$pass_status" = 5 ] || [ "$status" != 0 ] || status=$pass_status
}
VERSIONS="import importlib.metadata as m
print(', '.join(f'{n} {m.version(n)}' for n in ('onnx', 'onnxruntime', 'onnx-graphsurgeon', 'onnxslim', 'numpy')))"
run_pass "core and CLI tests, lowest supported versions beside the newest onnx" "$MIXED_VENV" "$@"
# Tests the arguments name run in every pass; without any, the third pass runs the onnx-facing tests.
named=0
for arg in "$@"; do [ -e "${arg%%::*}" ] && named=1; done
if [ $named = 1 ]; then
    run_pass "the same, lowest supported versions (onnx too)" "$OLDEST_VENV" "$@"
else
    run_pass "onnx-facing tests, lowest supported versions (onnx too)" "$OLDEST_VENV" "${ONNX_FACING_TESTS[@]}" "$@"
fi
exit "$status"
