"""The check repro.sh runs, reading what to expect from expected.json beside it.

Needs only tensorrt_rtx or tensorrt (parse/build failures) or onnxruntime and numpy (accuracy); never this
project. Exit status 1: the failure reproduced; 0: it did not.
"""
import json
import re
import sys

with open("expected.json", encoding="utf-8") as expected_file:
    EXPECTED = json.load(expected_file)
STAGE = EXPECTED["stage"]


def matches(text, fragments):
    """The message has the expected pattern's fixed parts in order (names and numbers may differ), once
    TensorRT's source locations ("In getSupportedFormats at /_src/…:48") are taken out, as in the pattern."""
    text = re.sub(r"\s+In \w+ at /\S+?(\)?)$", r"\1", text, flags=re.M)
    position = 0
    for fragment in fragments:
        found = text.find(fragment, position)
        if found < 0:
            return False
        position = found + len(fragment)
    return True


def report(failures):
    for stage, code, op, text in failures:
        print(f"{stage} failure: {code} {op}: {text}")
    for stage, code, op, text in failures:
        same = stage == STAGE and code == EXPECTED["code"] and op == EXPECTED["op"]
        if same and matches(text, EXPECTED["fragments"]):
            print(f"REPRODUCED: {EXPECTED['signature']}")
            sys.exit(1)
    print(f"NOT reproduced (expected {EXPECTED['signature']})")
    sys.exit(0)


def tensorrt_failures():
    try:
        import tensorrt_rtx as trt
    except ImportError:
        import tensorrt as trt

    class Logger(trt.ILogger):
        def __init__(self):
            trt.ILogger.__init__(self)
            self.errors = []

        def log(self, severity, msg):
            if severity in (trt.ILogger.Severity.ERROR, trt.ILogger.Severity.INTERNAL_ERROR):
                self.errors.append(msg)

    print(f"{trt.__name__} {trt.__version__}")
    logger = Logger()
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    with open(EXPECTED["model"], "rb") as handle:
        if not parser.parse(handle.read()):
            errors = [parser.get_error(i) for i in range(parser.num_errors)]
            return [("parse", e.code().name, e.node_operator(), e.desc()) for e in errors]
    if STAGE == "parse":
        return []
    config = builder.create_builder_config()
    for shapes in EXPECTED["profiles"]:
        profile = builder.create_optimization_profile()
        for name, r in shapes.get("shapes", {}).items():
            profile.set_shape(name, r["min"], r["opt"], r["max"])
        for name, r in shapes.get("values", {}).items():
            profile.set_shape_input(name, r["min"], r["opt"], r["max"])
        config.add_optimization_profile(profile)
    if builder.build_serialized_network(network, config) is not None:
        return []
    failures = []
    for text in logger.errors:
        code = re.search(r"Error Code (\d+): ([A-Za-z ]+?)(?:\s*\(|$)", text, re.M)
        op = next((op for name, op in EXPECTED["nodes"].items() if name and name in text), "")
        failures.append(("build", f"Error Code {code.group(1)}: {code.group(2).strip()}" if code else EXPECTED["code"],
                         op, text))
    return failures


def compare_failures():
    import numpy as np
    import onnxruntime as ort

    feeds = dict(np.load("inputs.npz"))
    expected = dict(np.load("onnxruntime_outputs.npz"))
    failures = []
    for name, model in (("reference", EXPECTED["model"]), ("test", EXPECTED["test_model"])):
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
        if name == "reference":
            continue
        for output, want in expected.items():
            got = outputs[output]
            close = np.isclose(got, want, atol=EXPECTED["atol"], rtol=EXPECTED["rtol"])
            if not close.all():
                error = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
                failures.append(("compare", "mismatch", "", f"outputs differ beyond the tolerances: {output}: "
                                 f"max |err| {error:.3g}, "
                                 f"{int((~close).sum())} of {close.size} values outside atol/rtol"))
    return failures


report(compare_failures() if STAGE == "compare" else tensorrt_failures())
