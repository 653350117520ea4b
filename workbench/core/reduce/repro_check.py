"""The check repro.sh runs (copied into the report folder), reading what to expect from expected.json beside it.

Needs only tensorrt_rtx or tensorrt (parse/build failures) or onnxruntime and numpy (accuracy); never this
project. Exit status 1: the failure reproduced; 0: it did not.
"""
import json
import re
import sys

_SOURCE_LOCATION = re.compile(r"\s+In \w+ at /\S+?(\)?)$", re.M)
_ERROR_CODE = re.compile(r"Error Code (\d+): ([A-Za-z ]+?)(?:\s*\(|$)", re.M)


def matches(text, fragments):
    """The message has the expected pattern's fixed parts in order (names and numbers may differ), once
    TensorRT's source locations ("In getSupportedFormats at /_src/…:48") are taken out, as in the pattern."""
    text = _SOURCE_LOCATION.sub(r"\1", text)
    position = 0
    for fragment in fragments:
        found = text.find(fragment, position)
        if found < 0:
            return False
        position = found + len(fragment)
    return True


def reproduced(failures, expected):
    for stage, code, op, text in failures:
        print(f"{stage} failure: {code} {op}: {text}")
    return any(stage == expected["stage"] and code == expected["code"] and op == expected["op"]
               and matches(text, expected["fragments"]) for stage, code, op, text in failures)


def tensorrt_failures(expected):
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
    with open(expected["model"], "rb") as handle:
        if not parser.parse(handle.read()):
            errors = [parser.get_error(i) for i in range(parser.num_errors)]
            return [("parse", e.code().name, e.node_operator(), e.desc()) for e in errors]
    if expected["stage"] == "parse":
        return []
    config = builder.create_builder_config()
    for shapes in expected["profiles"]:
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
        code = _ERROR_CODE.search(text)
        op = next((op for name, op in expected["nodes"].items() if name and name in text), "")
        failures.append(("build", f"Error Code {code.group(1)}: {code.group(2).strip()}" if code else expected["code"],
                         op, text))
    return failures


def compare_failures(expected):
    import numpy as np
    import onnxruntime as ort

    feeds = dict(np.load("inputs.npz"))
    reference = dict(np.load("onnxruntime_outputs.npz"))
    session = ort.InferenceSession(expected["test_model"], providers=["CPUExecutionProvider"])
    outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
    failures = []
    for name, want in reference.items():
        got = outputs[name]
        close = np.isclose(got, want, atol=expected["atol"], rtol=expected["rtol"])
        if not close.all():
            error = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
            failures.append(("compare", "mismatch", "", f"outputs differ beyond the tolerances: {name}: max |err| "
                             f"{error:.3g}, {int((~close).sum())} of {close.size} values outside atol/rtol"))
    return failures


def main():
    with open("expected.json", encoding="utf-8") as handle:
        expected = json.load(handle)
    failures = compare_failures(expected) if expected["stage"] == "compare" else tensorrt_failures(expected)
    if reproduced(failures, expected):
        print(f"REPRODUCED: {expected['signature']}")
        sys.exit(1)
    print(f"NOT reproduced (expected {expected['signature']})")
    sys.exit(0)


if __name__ == "__main__":
    main()
