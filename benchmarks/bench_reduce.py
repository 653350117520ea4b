"""``reduce`` against ``polygraphy debug reduce`` on the same failing models: oracle calls, wall time, result size.

Models: the real NonZero exports of the corpus (``mid_nonzero_ts``, ``detector_nms_ts``: parser errors), a NonZero
planted in the middle of the TorchScript transformer (parser) and a NonMaxSuppression planted in the embedding CNN
(builder: TensorRT-RTX has no runner for it), made as in ``tests/core/reduce/plants.py``.

A second run of ours skips the first step (the node the failure names, alone), to show what the bisections and
ddmin cost on their own. Polygraphy is driven the way its documentation says: a check script (written here, as a
user would write it: parse, and build for a builder failure, with TensorRT-RTX; exit 1 on failure) with
``--fail-regex`` for the same failure, ``--model-input-shapes`` at the shapes our shape service picks, first
``--mode bisect``, then ``--mode linear`` on bisect's result. Its oracle calls are the check script's runs
(counted by the script).

Run: ``.venv/bin/python benchmarks/bench_reduce.py`` (needs ``polygraphy`` next to the interpreter).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.core.reduce.plants import plant_nms, plant_nonzero  # noqa: E402
from workbench.core.runtime import load_backend  # noqa: E402
from workbench.core.model.loading import load_model  # noqa: E402
from workbench.core.reduce import search  # noqa: E402
from workbench.core.reduce.search import reduce_model  # noqa: E402
from workbench.core.shapes.suggest import suggested_feeds  # noqa: E402

POLYGRAPHY = Path(sys.executable).parent / "polygraphy"
CHECK_SCRIPT = '''
import sys
import tensorrt_rtx as trt

with open("calls.txt", "a") as counter:
    counter.write("x")
logger = trt.Logger(trt.Logger.ERROR)
builder = trt.Builder(logger)
network = builder.create_network(0)
parser = trt.OnnxParser(network, logger)
if not parser.parse(open(sys.argv[1], "rb").read()):
    for i in range(parser.num_errors):
        print(parser.get_error(i).desc())
    sys.exit(1)
if sys.argv[2] == "build":
    config = builder.create_builder_config()
    if builder.build_serialized_network(network, config) is None:
        sys.exit(1)
'''


def active_nodes(path: Path) -> int:
    return sum(node.op_type != "Constant" for node in onnx.load(str(path)).graph.node)


def polygraphy_reduce(model: Path, stage: str, fail_regex: str, shapes: str, work: Path) -> tuple[int, float, int]:
    """Bisect, then linear on bisect's result: (check runs, seconds, active nodes of the result)."""
    (work / "check.py").write_text(CHECK_SCRIPT)
    (work / "calls.txt").write_text("")
    started = time.perf_counter()
    source = model
    for mode in ("bisect", "linear"):
        output = work / f"reduced_{mode}.onnx"
        # TensorRT-RTX's builder logs build errors to stderr, not stdout: --fail-regex reads both.
        # bisect's result has new, static inputs: the shapes are for the original only
        given = ["--model-input-shapes", *shapes.split()] if mode == "bisect" else []
        command = [str(POLYGRAPHY), "debug", "reduce", str(source), "-o", str(output), "--mode", mode, *given,
                   "--fail-regex", fail_regex, "--check", sys.executable, "check.py", "polygraphy_debug.onnx", stage]
        done = subprocess.run(command, cwd=work, capture_output=True, text=True)
        if done.returncode != 0 or not output.is_file():
            raise RuntimeError(f"polygraphy {mode} failed: {done.stderr[-2000:]}")
        source = output
    return len((work / "calls.txt").read_text()), time.perf_counter() - started, active_nodes(source)


def _without_the_named_node(model, backend):
    """The same reduction with its first step (the node the failure names, alone) skipped: what the bisections and
    ddmin cost on their own, as Polygraphy's search works without knowing the node."""
    named = search._named_node_alone
    search._named_node_alone = lambda _search, nodes: nodes
    try:
        started = time.perf_counter()
        result = reduce_model(model, backend=backend)
        return result, time.perf_counter() - started
    finally:
        search._named_node_alone = named


def main() -> None:
    backend = load_backend("tensorrt-rtx")
    with tempfile.TemporaryDirectory() as temp:
        temp = Path(temp)
        corpus = ROOT / "tests" / "corpus"
        cases = [("mid_nonzero_ts (parse)", corpus / "mid_nonzero_ts.onnx", "parse", "NonZero plugin creator"),
                 ("detector_nms_ts (parse)", corpus / "detector_nms_ts.onnx", "parse", "NonZero plugin creator"),
                 ("transformer + NonZero (parse)",
                  plant_nonzero("transformer_ts_seq64.onnx", temp / "transformer_nonzero.onnx")[0], "parse",
                  "NonZero plugin creator"),
                 ("embedding CNN + NMS (build)", plant_nms("l2_embedding_ts.onnx", temp / "embedding_nms.onnx")[0],
                  "build", "has no runners")]
        print(f"{'model':32} {'nodes':>5} | {'ours: calls':>11} {'s':>6} {'nodes':>5} | "
              f"{'no named node: calls':>20} {'s':>6} {'nodes':>5} | {'polygraphy: calls':>17} {'s':>6} {'nodes':>5}")
        for label, path, stage, regex in cases:
            model = load_model(path)
            started = time.perf_counter()
            result = reduce_model(model, backend=backend)
            ours = time.perf_counter() - started
            without, blind_seconds = _without_the_named_node(model, backend)
            shapes = " ".join(f"{name}:[{','.join(map(str, array.shape))}]"
                              for name, array in suggested_feeds(model).items())
            work = temp / label.split()[0]
            work.mkdir()
            try:
                calls, seconds, nodes = polygraphy_reduce(path, stage, regex, shapes, work)
                theirs = f"{calls:>17} {seconds:6.1f} {nodes:>5}"
            except RuntimeError as exc:
                theirs = f"failed: {str(exc).splitlines()[-1][:60]}"
            print(f"{label:32} {result.original_nodes:>5} | {result.oracle_calls:>11} {ours:6.1f} "
                  f"{len(result.reduced_nodes):>5} | {without.oracle_calls:>20} {blind_seconds:6.1f} "
                  f"{len(without.reduced_nodes):>5} | {theirs}")


if __name__ == "__main__":
    main()
