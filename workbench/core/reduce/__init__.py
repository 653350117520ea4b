"""Reduce and report: the smallest model that still fails the same way, and a bug report that runs without us.

``signature`` says what "the same failure" is (stage, error code, op, message pattern); ``oracle`` asks
TensorRT's parser, its builder (in the isolated build child) or the comparator whether a candidate fails
that way; ``candidates`` cuts checked sub-models out of the original; ``search`` drives the cuts (from the
outputs, from the inputs, then delta debugging) within a time limit; ``bundle`` writes the report folder and
``environment`` describes the machine.
"""
