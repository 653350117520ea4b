#!/usr/bin/env bash
# Launch TensorRT Workbench: `scripts/app.sh [MODEL.onnx]` (a bundled sample opens when none is given).
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ROOT"
exec "$VENV/bin/python" main.py "$@"
