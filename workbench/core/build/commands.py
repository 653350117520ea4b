"""The same build as a ``trtexec`` (``tensorrt_rtx`` on TensorRT-RTX) or Polygraphy command line.

So a build tuned in the window can be reproduced on a machine without the workbench. FP16 on a
strongly typed network means a converted model; the commands then name the converted file and say
how to produce it (``trt-workbench build --fp16 --save-converted``).
"""

from __future__ import annotations

import shlex

from workbench.core.backend import Backend
from workbench.core.build.engine import COMMAND_FLAGS, BuildSettings
from workbench.core.shapes.profiles import FIELDS, Profile, format_shape_list


def _setting_flags(settings: BuildSettings, tool: str) -> list[str]:
    """The flags of every setting that differs from its default, from ``COMMAND_FLAGS``."""
    changed = settings.to_dict()
    return [arg for name, flags in COMMAND_FLAGS.items() if name in changed
            for arg in getattr(flags, tool)(changed[name])]


def trtexec_command(model_path: str, engine_path: str, settings: BuildSettings, profiles: list[Profile],
                    backend: Backend) -> str:
    args = ["tensorrt_rtx" if backend.is_rtx else "trtexec", f"--onnx={model_path}", f"--saveEngine={engine_path}"]
    for index, profile in enumerate(profiles):
        if len(profiles) > 1:  # trtexec ≥ 10.2 rejects repeated shape flags without a profile index
            args.append(f"--profile={index}")
        for which, flag in zip(FIELDS, ("--minShapes", "--optShapes", "--maxShapes")):
            shapes = {name: r.get(which) for name, r in profile.shapes.items()}
            shapes.update({name: r.get(which) for name, r in profile.values.items()})
            if shapes:
                args.append(f"{flag}={format_shape_list(shapes)}")
    if settings.precision != "fp32" and not settings.uses_conversion(backend):
        args.append(f"--{settings.precision}")
    if settings.uses_conversion(backend) and not backend.strongly_typed_only:
        args.append("--stronglyTyped")  # TensorRT 10 is weakly typed unless told; RTX and 11 always strongly
    args += _setting_flags(settings, "trtexec")
    args.append("--skipInference")
    return shlex.join(args)


def _polygraphy_shapes(shapes: dict) -> str:
    return " ".join(f"{name}:[{','.join(str(d) for d in shape)}]" for name, shape in shapes.items())


def polygraphy_command(model_path: str, engine_path: str, settings: BuildSettings, profiles: list[Profile],
                       backend: Backend) -> str:
    args = ["polygraphy", "convert", model_path, "-o", engine_path]
    for profile in profiles:  # Polygraphy, too, starts a new profile when the options repeat
        for which in FIELDS:
            shapes = {name: r.get(which) for name, r in profile.shapes.items()}
            shapes.update({name: r.get(which) for name, r in profile.values.items()})
            if shapes:
                args += [f"--trt-{which}-shapes", *_polygraphy_shapes(shapes).split(" ")]
    if settings.precision != "fp32" and not settings.uses_conversion(backend):
        args.append(f"--{settings.precision}")
    if settings.uses_conversion(backend) and not backend.strongly_typed_only:
        args.append("--strongly-typed")
    args += _setting_flags(settings, "polygraphy")
    command = shlex.join(args)
    return f"POLYGRAPHY_USE_TENSORRT_RTX=1 {command}" if backend.is_rtx else command


def reproduction_commands(model_path: str, engine_path: str, settings: BuildSettings, profiles: list[Profile],
                          backend: Backend) -> dict[str, str]:
    """{"trtexec": …, "polygraphy": …} plus a note when the model must be converted first."""
    commands = {"trtexec": trtexec_command(model_path, engine_path, settings, profiles, backend),
                "polygraphy": polygraphy_command(model_path, engine_path, settings, profiles, backend)}
    if settings.uses_conversion(backend):
        commands["note"] = (f"FP16 on a strongly typed network needs the FP16-converted model: run "
                            f"`trt-workbench build {shlex.quote(model_path)} --fp16 --save-converted FILE` "
                            "and pass FILE to the commands above.")
    return commands
