"""The baseline the build benchmarks measure against: TensorRT's own API in this process."""

from __future__ import annotations

import time

from workbench.core.model.loading import LoadedModel
from workbench.core.shapes.profiles import Profile


def raw_build(backend, model: LoadedModel, profiles: list[Profile], engine_path: str | None = None) -> float:
    """What a script using TensorRT directly does: parse, add the profiles, build, write the engine.

    Returns the wall time; a model TensorRT refuses still counts (the builder returns None).
    """
    trt = backend.trt
    started = time.perf_counter()
    logger = trt.Logger(trt.Logger.INTERNAL_ERROR)  # quiet: refused models are expected here
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if parser.parse(model.serialized, model.parser_path):
        config = builder.create_builder_config()
        for profile in profiles:
            optimization = builder.create_optimization_profile()
            for name, shapes in profile.shapes.items():
                optimization.set_shape(name, shapes.min, shapes.opt, shapes.max)
            config.add_optimization_profile(optimization)
        engine = builder.build_serialized_network(network, config)
        if engine is not None and engine_path:
            with open(engine_path, "wb") as handle:
                handle.write(engine)
    return time.perf_counter() - started
