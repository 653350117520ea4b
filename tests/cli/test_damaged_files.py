"""Damaged files through every command: a clear error or a clean result, never an internal error, an abort or a
file written on error.

A seeded sweep of the damage a failed copy or download does — bit flips in the header and in the graph region,
truncations, invalid UTF-8 in names — over real exports from the corpus. Each command runs in this process
(a native abort would end the test run, which is the failure this suite exists to catch).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import onnx
import pytest

from workbench.cli import main

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
MODELS = ("classifier_ts.onnx", "l2_embedding_ts.onnx", "sensor_centering_ts.onnx")
SEED = 20261204
INTERNAL = "report it"  # the CLI's wording for an error it did not expect


def _flip(data: bytes, rng: random.Random, start: int, end: int, bits: int = 3) -> bytes:
    damaged = bytearray(data)
    for _ in range(bits):
        position = rng.randrange(start, max(start + 1, min(end, len(data))))
        damaged[position] ^= 1 << rng.randrange(8)
    return bytes(damaged)


def _bad_utf8_name(data: bytes, rng: random.Random) -> bytes:
    """A byte of a node's output name replaced by one that starts an invalid UTF-8 sequence."""
    model = onnx.load_from_string(data)
    name = rng.choice([output for node in model.graph.node for output in node.output if len(output) > 2]).encode()
    position = data.index(name) + 1
    return data[:position] + b"\xe7" + data[position + 1:]


def mutations() -> list[tuple[str, str, bytes]]:
    rng = random.Random(SEED)
    found = []
    for name in MODELS:
        data = (CORPUS / name).read_bytes()
        graph_start = min(len(data) - 1, 64)
        found += [
            (name, "header bits", _flip(data, rng, 0, 64)),
            (name, "graph bits", _flip(data, rng, graph_start, len(data) // 4)),
            (name, "graph bits, more", _flip(data, rng, graph_start, len(data), bits=12)),
            (name, "truncated at a third", data[:len(data) // 3]),
            (name, "truncated near the end", data[:len(data) - rng.randrange(1, 64)]),
            (name, "invalid UTF-8 in a name", _bad_utf8_name(data, rng)),
        ]
    return found


MUTATIONS = mutations()
IDS = [f"{name}-{what}" for name, what, _data in MUTATIONS]


def _run(argv: list[str], capsys) -> tuple[int, dict]:
    code = main(argv + ["--json"])
    reply = json.loads(capsys.readouterr().out)  # --json: stdout is exactly one JSON object
    return code, reply


def _assert_clean(code: int, reply: dict) -> None:
    assert code in (0, 1, 2), code
    error = reply.get("error")
    if code == 2:
        assert error and error["message"], reply
    if error:
        assert INTERNAL not in error["hint"], error  # a clear message, not an internal error


@pytest.mark.parametrize(("name", "what", "data"), MUTATIONS, ids=IDS)
def test_analyze_with_a_trial_build_ends_cleanly(name, what, data, tmp_path, capsys):
    path = tmp_path / name
    path.write_bytes(data)
    _assert_clean(*_run(["analyze", str(path), "--build"], capsys))


@pytest.mark.parametrize(("name", "what", "data"), MUTATIONS, ids=IDS)
def test_fix_writes_nothing_when_it_fails(name, what, data, tmp_path, capsys):
    path, output = tmp_path / name, tmp_path / "fixed.onnx"
    path.write_bytes(data)
    code, reply = _run(["fix", str(path), "--apply", "remove-unused", "-o", str(output)], capsys)
    _assert_clean(code, reply)
    if code == 2:
        assert not output.exists() and not list(tmp_path.glob("*.tmp*")), list(tmp_path.iterdir())
    assert path.read_bytes() == data  # the user's file is only read


@pytest.mark.parametrize(("name", "what", "data"), MUTATIONS, ids=IDS)
def test_compare_ends_cleanly(name, what, data, tmp_path, capsys):
    path = tmp_path / name
    path.write_bytes(data)
    _assert_clean(*_run(["compare", str(path), "--against", str(path)], capsys))


def test_invalid_utf8_names_are_named_as_damage(tmp_path, capsys):
    name, _what, data = next(m for m in MUTATIONS if m[1] == "invalid UTF-8 in a name")
    path = tmp_path / name
    path.write_bytes(data)
    code, reply = _run(["analyze", str(path)], capsys)
    assert code == 2 and "damaged" in reply["error"]["message"] and "UTF-8" in reply["error"]["message"]
