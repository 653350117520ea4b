"""Dim names that state a relation (what Optimum and the dynamo exporter write) are read, never evaluated."""

from __future__ import annotations

import pytest

from workbench.core.shapes.relations import parse_relation


@pytest.mark.parametrize(("name", "values", "expected"), [
    ("past_sequence_length + sequence_length", {"past_sequence_length": 127, "sequence_length": 1}, 128),
    ("s0 + s1", {"s0": 3, "s1": 4}, 7),
    ("2*s0", {"s0": 5}, 10),
    ("floor(s0/2)", {"s0": 7}, 3),
    ("encoder_sequence_length / 2", {"encoder_sequence_length": 3000}, 1500),
    ("s0 - 1", {"s0": 8}, 7),
    ("Max(s0, s1)", {"s0": 2, "s1": 9}, 9),
])
def test_exporter_expressions_are_computed_from_the_dims_they_name(name, values, expected):
    relation = parse_relation(name)
    assert relation is not None and set(relation.symbols) == set(values)
    assert relation.value(values) == expected


@pytest.mark.parametrize("name", ["batch", "?", "unk__3", "p2o.DynamicDimension.0", "sequence_length", "", None, 64,
                                  "a - b",  # decreasing in b: min/max could not be computed from the ends
                                  "__import__('os').system('true')", "s0 ** 2", "lambda: 1"])
def test_plain_names_and_anything_outside_the_grammar_are_not_relations(name):
    assert parse_relation(name) is None
