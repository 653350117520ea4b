"""Placeholder dim names ('?', 'unk__N') that several unrelated input dims share (rename-dims)."""

from __future__ import annotations

from workbench.core.model.dim_names import DimUse, axis_role, is_placeholder, roles_differ, shared_dim_names
from workbench.core.model.loading import LoadedModel
from workbench.core.model.protos import GraphProto
from workbench.core.problems import Problem, ProblemKind, Severity, Stage

Use = tuple[str, int]  # (tensor name, axis)


def placeholder_names(model: LoadedModel) -> dict[str, list[DimUse]]:
    """Placeholder names several input dims share → those dims (what rename-dims replaces by default)."""
    return {name: uses for name, uses in shared_dim_names(model.summary().inputs).items() if is_placeholder(name)}


def _value_infos(graph: GraphProto):
    """Every declared tensor type of ``graph`` and of the If/Loop bodies in it."""
    yield from graph.input
    yield from graph.output
    yield from graph.value_info
    for node in graph.node:
        for attr in node.attribute:
            for body in list(attr.graphs) + ([attr.g] if attr.HasField("g") else []):
                yield from _value_infos(body)


def new_dim_names(model: LoadedModel, targets: list[str]) -> dict[Use, str]:
    """(graph input or output, axis) → its new name, for every dim named one of ``targets``: the tensor's name
    and the axis's role (``x_height``), made unique among the model's other dim names."""
    taken = {d.dim_param for value in _value_infos(model.proto.graph) for d in value.type.tensor_type.shape.dim
             if d.dim_param and d.dim_param not in targets}
    summary = model.summary()
    input_names = {t.name for t in summary.inputs}
    renamed: dict[Use, str] = {}
    for tensor in [*summary.inputs, *(t for t in summary.outputs if t.name not in input_names)]:
        for axis, declared in enumerate(tensor.shape or ()):
            if declared not in targets:
                continue
            base = name = f"{tensor.name}_{axis_role(tensor.shape, axis)}"
            counter = 2
            while name in taken:
                name, counter = f"{base}_{counter}", counter + 1
            taken.add(name)
            renamed[(tensor.name, axis)] = name
    return renamed


def _uses_text(uses: list[DimUse]) -> str:
    return ", ".join(use.text() for use in uses)


def detect_shared_dim_names(model: LoadedModel, _backend=None) -> list[Problem]:
    problems = []
    for name, uses in placeholder_names(model).items():
        if not roles_differ(uses):  # the same place of several inputs: most likely one dim anyway
            continue
        renamed = new_dim_names(model, [name])
        problems.append(Problem(
            kind=ProblemKind.SHARED_DIM_NAME, severity=Severity.WARNING, stage=Stage.MODEL,
            inputs=list(dict.fromkeys(use.tensor for use in uses)), fixes=["rename-dims"],
            message=f"Input dims {_uses_text(uses)} all carry the name '{name}', which says nothing about them; "
                    "TensorRT takes dims that share a name to be equal, so it builds only profiles that give them "
                    f"one value ({' = '.join(dict.fromkeys(use.role for use in uses))}).",
            hint=f"Apply rename-dims: they become {', '.join(renamed[(u.tensor, u.axis)] for u in uses)}; what the "
                 "model computes does not change."))
    return problems
