"""The fix catalogue: detect known conversion problems and repair the graph (onnx-graphsurgeon).

Each fix (``registry.FIXES``) has a name, typed parameters, a transform and a description; ``apply``
builds validated steps (``make_step``/``parse_spec``/``step_from_dict``), applies them (``apply_fix`` returns
a new model, the old one is kept for undo, with a preview of what changed) and replays recipes. ``detect``
runs the detectors (``detectors``) for the analysis without importing the catalogue and its transforms, so
this package's modules are imported one by one. Nothing here imports ``analysis`` (it imports us).
"""
