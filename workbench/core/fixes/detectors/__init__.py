"""What the fix catalogue looks for, found by walking the model's proto: each detector returns the problems it
finds, each naming the fixes that answer it.

Every analysis runs these, so they import neither onnx-graphsurgeon nor the fixes' transforms (``fixes.detect``
gathers them); a detector that needs a heavier tool for a pattern (GroupNorm's constants) imports it once it has
found the pattern's node.
"""
