"""``trt-workbench``: the window by default, and headless commands over the same core.

``trt-workbench [MODEL]`` opens the window; ``trt-workbench analyze|fix|build|compare …`` replay
what the window does. Exit codes: 0 success / nothing wrong, 1 problems or mismatch found, 2 error.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from dataclasses import asdict
from typing import Callable

from workbench import __version__
from workbench.core.backend import BACKEND_CHOICES
from workbench.core.errors import WorkbenchError

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2

# name → (help, add_arguments(parser), run(args) -> exit code); each command registers itself below.
COMMANDS: dict[str, tuple[str, Callable, Callable]] = {}


def command(name: str, help_text: str, add_arguments: Callable):
    def register(run: Callable):
        COMMANDS[name] = (help_text, add_arguments, run)
        return run
    return register


# With --json, the command's one object; main() writes it once the command and its output capture ended.
_json_reply: dict = {}


def print_json(data: dict) -> None:
    _json_reply.clear()
    _json_reply.update(data)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default="auto",
                        help="TensorRT flavour: full tensorrt when importable, else tensorrt-rtx (default: auto)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")


def _analyze_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="ONNX model file")
    parser.add_argument("--build", action="store_true",
                        help="also run a trial build (no engine written; dynamic inputs get suggested shapes): "
                             "builder refusals join the problems with stage 'build'")


@command("analyze", "summarise a model and check what TensorRT supports", _analyze_arguments)
def run_analyze(args) -> int:
    from workbench.core.analysis.support import analyze_support
    from workbench.core.backend import load_backend
    from workbench.core.model.loading import load_model

    backend = load_backend(args.backend)
    model = load_model(args.model)
    shapes = None
    if args.build:  # probe realistic shapes under onnxruntime while TensorRT's parser analyses the model
        from workbench.core.shapes.suggest import prefetch_shapes

        shapes = prefetch_shapes(model)
    report = analyze_support(model, backend)
    summary = model.summary()
    trial = None
    if args.build:
        from workbench.core.build.trial import trial_build

        shapes.join()
        trial = trial_build(model, backend=backend)
        report.problems.extend(trial.triage_problems())
    if args.json:
        print_json({"summary": summary.to_dict(), **report.to_dict(),
                    **({"trial_build": trial.to_dict()} if trial else {})})
    else:
        _print_analysis(summary, report)
        if trial:
            print(f"Trial build: {'succeeded' if trial.succeeded else 'failed'} in {trial.seconds:.2f} s"
                  + (f" (assumed {'; '.join(trial.assumed)})" if trial.assumed else ""))
    return EXIT_PROBLEMS if report.blocking_problems else EXIT_OK


def _print_analysis(summary, report) -> None:
    backend = report.backend
    print(f"{summary.path}")
    print(f"  IR {summary.ir_version}, opsets {', '.join(f'{d} {v}' for d, v in summary.opsets.items())}, "
          f"producer {summary.producer or '-'}")
    print(f"  {summary.node_count} nodes ({summary.subgraph_node_count} nested), "
          f"{summary.parameter_count:,} parameters ({summary.parameter_bytes / 1e6:.1f} MB)")
    for label, tensors in (("input", summary.inputs), ("output", summary.outputs)):
        for t in tensors:
            print(f"  {label:6} {t.name}: {t.dtype} {t.shape_text()}{'  (dynamic)' if t.is_dynamic else ''}")
    print(f"  ops: {', '.join(f'{op}×{n}' for op, n in summary.op_histogram.items())}")
    print(f"\nBackend: {backend.name} {backend.version} — {backend.reason}")
    unsupported = report.unsupported_nodes
    print(f"TensorRT parser: {'all nodes supported' if report.fully_supported else f'{len(unsupported)} of {len(report.nodes)} nodes unsupported'}")
    if not report.problems:
        print("No problems found.")
    for problem in report.problems:
        print_problem(problem)


def print_problem(p) -> None:
    """One problem: where it is, what TensorRT said, and what answers it (a catalogue fix or a hint)."""
    if p.node:
        where = f" [{' '.join(filter(None, [p.op, p.node]))}{' in ' + p.parent if p.parent else ''}]"
    else:
        where = f" [inputs: {', '.join(p.inputs)}]" if p.inputs else ""
    print(f"  {p.severity.upper():7} {p.stage}/{p.kind}{where}: {p.message}")
    if p.fixes:
        print(f"          fixes: {', '.join(p.fixes)}   (trt-workbench fix MODEL --apply NAME…, or the Fixes panel)")
    elif p.hint:
        print(f"          hint: {p.hint}")


def _compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="ONNX model: the onnxruntime reference")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--engine", help="TensorRT engine file to check against the model")
    target.add_argument("--against", metavar="MODEL2", help="second ONNX model (e.g. the fixed or float16 one)")
    parser.add_argument("--inputs", action="append", default=[], metavar="FILE",
                        help=".npz (arrays by input name) or .npy input data; inputs not covered get random data")
    parser.add_argument("--seed", type=int, help="seed for random inputs (default 0)")
    parser.add_argument("--shape", action="append", default=[], metavar="NAME:1x3x224x224",
                        help="shape of a dynamic input for random data (repeatable)")
    parser.add_argument("--profile", type=int, metavar="N",
                        help="shape random data from the recipe's optimization profile N (1-based), opt shapes")
    parser.add_argument("--recipe", help="recipe file whose [inputs] and [compare] sections to use")
    parser.add_argument("--atol", type=float, help="absolute tolerance (default 1e-5, as Polygraphy)")
    parser.add_argument("--rtol", type=float, help="relative tolerance (default 1e-5, as Polygraphy)")
    parser.add_argument("--timing", type=int, metavar="N", help="also time N runs of each side (after warm-up)")
    parser.add_argument("--bisect", action="store_true", help="find the first node whose output diverges")
    parser.add_argument("--report", metavar="PATH", help="write PATH.json and a self-contained PATH.html")


@command("compare", "check a TensorRT engine or a second model against onnxruntime", _compare_arguments)
def run_compare(args) -> int:
    from dataclasses import replace

    from workbench.core.backend import load_backend
    from workbench.core.compare.comparison import CompareSettings, run_comparison
    from workbench.core.compare.inputs import InputSpec
    from workbench.core.model.loading import load_model
    from workbench.core.shapes.profiles import parse_shape_list
    from workbench.core.recipe import Recipe, load_recipe
    from workbench.core.compare.report import check_destination, write_report

    if args.report:
        check_destination(args.report)
    recipe = load_recipe(args.recipe) if args.recipe else Recipe()
    spec = InputSpec.from_dict(recipe.inputs)
    spec.data_files = args.inputs or spec.data_files
    for text in args.shape:
        spec.shapes.update({name: list(dims) for name, dims in parse_shape_list(text).items()})
    spec.seed = spec.seed if args.seed is None else args.seed
    spec.profile = spec.profile if args.profile is None else args.profile - 1
    settings = CompareSettings.from_dict(recipe.compare)
    tolerances = replace(settings.tolerances, **{k: getattr(args, k) for k in ("atol", "rtol")
                                                 if getattr(args, k) is not None})
    settings = replace(settings, against="engine" if args.engine else "model", engine_path=args.engine or "",
                       against_model=args.against or "", tolerances=tolerances,
                       timing_runs=settings.timing_runs if args.timing is None else args.timing,
                       bisect=args.bisect or settings.bisect)
    model = load_model(args.model)
    backend = load_backend(args.backend) if args.engine else None
    result = run_comparison(model, settings, spec, backend, profiles=recipe.profiles)
    if args.report:
        written = write_report(result, args.report)
        result.notes.append(f"Report written: {', '.join(str(p) for p in written)}")
    if args.json:
        print_json(result.to_dict())
    else:
        _print_comparison(result)
    return EXIT_OK if result.passed else EXIT_PROBLEMS


def _print_comparison(result) -> None:
    print(f"{result.reference}  vs  {result.test}")
    for i in result.inputs:
        print(f"  input  {i['name']}: {i['dtype']} {i['shape']} from {i['source']}")
    print(f"  {'output':24} {'max|err|':>10} {'mean|err|':>10} {'max rel':>10} {'cosine':>9} {'outside':>8}  verdict")
    for o in result.outputs:
        extra = f"  NaN {o.nan_ref}/{o.nan_test} Inf {o.inf_ref}/{o.inf_test}" if o.nan_ref + o.nan_test + o.inf_ref + o.inf_test else ""
        if o.top1_agreement is not None:
            extra += f"  top-1 {o.top1_agreement:.0%} top-{o.top_k} {o.topk_agreement:.0%}"
        print(f"  {o.name:24} {o.max_abs:10.3g} {o.mean_abs:10.3g} {o.max_rel:10.3g} {o.cosine:9.6f} "
              f"{o.outside_fraction:8.2%}  {o.verdict}{extra}")
        print(f"  {'':24} reason: {o.reason}")
    for t in result.timing:
        print(f"  timing {t.label}: median {t.median_ms:.3f} ms (min {t.min_ms:.3f}, p90 {t.p90_ms:.3f}, "
              f"p99 {t.p99_ms:.3f}), {t.inferences_per_s:.1f} inferences/s over {t.runs} runs")
    if result.bisect:
        print(f"  bisect: {result.bisect.message}")
    for note in result.notes:
        print(f"  note: {note}")
    print(result.summary)


def _build_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="ONNX model file")
    parser.add_argument("-o", "--output", required=True, help="engine file to write")
    parser.add_argument("--recipe", help="recipe (TOML): its fixes are applied first; its profiles and build "
                                         "settings are used unless options below override them")
    for which in ("min", "opt", "max"):
        parser.add_argument(f"--{which}-shapes", action="append", default=[], metavar="NAME:AxBxC[,…]",
                            help=f"{which} shapes of one profile (repeat --opt-shapes etc. for more profiles)")
    precision = parser.add_mutually_exclusive_group()
    for name in ("fp16", "bf16", "int8", "fp8"):
        precision.add_argument(f"--{name}", dest="precision", action="store_const", const=name,
                               help=f"build in {name.upper()}" + (" (converts the model on strongly typed "
                                                                  "networks such as TensorRT-RTX)" if name == "fp16" else ""))
    parser.add_argument("--precision-by-flag", action="store_true", default=None,
                        help="full TensorRT: use the weakly typed builder flag instead of converting the model")
    parser.add_argument("--workspace", type=int, dest="workspace_mb", metavar="MIB", help="workspace memory limit")
    parser.add_argument("--opt-level", type=int, dest="optimization_level", metavar="0-5",
                        help="builder optimization level")
    parser.add_argument("--timing-cache", metavar="FILE", help="timing cache to load and save")
    parser.add_argument("--plugin", action="append", dest="plugins", metavar="LIB",
                        help="plugin library to load (runs its native code)")
    parser.add_argument("--hardware-compatibility", choices=("none", "ampere_plus", "same_compute_capability"))
    parser.add_argument("--version-compatible", action="store_true", default=None)
    parser.add_argument("--compute-capability", action="append", dest="compute_capabilities", metavar="SMxx",
                        help="TensorRT-RTX target (repeat for several; CURRENT = this machine's GPU)")
    parser.add_argument("--detailed-profiling", action="store_true", default=None,
                        help="detailed profiling verbosity (also lists the engine's layers)")
    parser.add_argument("--save-converted", metavar="FILE", help="also save the FP16-converted model")
    parser.add_argument("--save-recipe", metavar="FILE", help="save the fixes, profiles and settings used")
    parser.add_argument("--print-commands", action="store_true",
                        help="print the equivalent trtexec/tensorrt_rtx and Polygraphy commands")


_SETTING_OPTIONS = ("precision", "precision_by_flag", "workspace_mb", "optimization_level", "timing_cache", "plugins",
                    "hardware_compatibility", "version_compatible", "compute_capabilities", "detailed_profiling")


def _cli_profiles(args, model, backend) -> list:
    """The --*-shapes options as profiles; like trtexec, a shape-tensor input's entry gives its values."""
    from workbench.core.analysis.support import find_shape_tensor_inputs
    from workbench.core.shapes.profiles import parse_shape_list, profile_from_shape_lists, with_shape_tensor_values

    count = max(len(args.min_shapes), len(args.opt_shapes), len(args.max_shapes))
    pick = lambda given, i: parse_shape_list(given[i]) if i < len(given) else {}  # noqa: E731
    profiles = [profile_from_shape_lists(pick(args.min_shapes, i), pick(args.opt_shapes, i), pick(args.max_shapes, i))
                for i in range(count)]
    return with_shape_tensor_values(profiles, find_shape_tensor_inputs(model, backend)) if profiles else []


@command("build", "build a TensorRT engine (in a separate process) and report what failed", _build_arguments)
def run_build(args) -> int:
    from workbench.core.backend import load_backend
    from workbench.core.build.engine import BuildSettings, build_engine
    from workbench.core.build.commands import reproduction_commands
    from workbench.core.model.loading import load_model, save_model
    from workbench.core.shapes.profiles import profiles_from_recipe, profiles_to_recipe
    from workbench.core.recipe import Recipe, load_recipe, save_recipe

    backend = load_backend(args.backend)
    model = load_model(args.model)
    recipe = load_recipe(args.recipe) if args.recipe else Recipe(source_model=str(model.path))
    to_build = model
    if recipe.fixes:
        from workbench.core.fixes.apply import replay, steps_from_recipe

        results = replay(model, steps_from_recipe(recipe))
        to_build = results[-1].after if results else model
    settings_data = dict(recipe.build)
    settings_data.update({name: getattr(args, name) for name in _SETTING_OPTIONS if getattr(args, name) is not None})
    settings = BuildSettings.from_dict(settings_data)
    profiles = _cli_profiles(args, to_build, backend) or profiles_from_recipe(recipe.profiles)
    if settings.plugins:
        print(f"warning: loading plugin libraries runs their native code: {', '.join(settings.plugins)}",
              file=sys.stderr)
    if args.save_converted:
        from workbench.core.build.precision import convert_to_fp16

        save_model(convert_to_fp16(to_build).proto, args.save_converted, protect=model.path)
    phases = []
    show = (lambda phase, _fraction=None: phases.append(phase) or print(f"  {phase}…", file=sys.stderr)) \
        if not args.json and sys.stderr.isatty() else None
    result = build_engine(to_build, settings, profiles, args.output, backend=backend, progress=show)
    if args.save_recipe:
        save_recipe(Recipe(fixes=recipe.fixes, profiles=profiles_to_recipe(profiles), build=settings.to_dict(),
                           inputs=recipe.inputs, compare=recipe.compare, source_model=str(model.path)),
                    args.save_recipe)
    commands = reproduction_commands(str(model.path), str(args.output), settings, profiles, backend)
    if args.json:
        print_json({**result.to_dict(), "commands": commands})
    else:
        _print_build(result, commands if args.print_commands else None)
    return EXIT_OK if result.succeeded else EXIT_PROBLEMS


def _print_build(result, commands: dict | None) -> None:
    if result.succeeded:
        print(f"Built {result.engine_path} ({result.engine_bytes / 2**20:.2f} MiB) in {result.build_seconds:.2f} s "
              f"with {result.backend}, {result.settings.precision.upper()}, {len(result.profiles)} profile(s)")
        for label, tensors in (("input", result.inputs), ("output", result.outputs)):
            for t in tensors:
                ranges = "; ".join(f"profile {i + 1}: {'values ' if t.shape_tensor else ''}"
                                   f"{r['min']} … {r['opt']} … {r['max']}"
                                   for i, r in enumerate(t.profile_shapes))
                print(f"  {label:6} {t.name}: {t.dtype} {t.shape}{'  ' + ranges if ranges else ''}")
        if result.layers:
            print(f"  {len(result.layers)} layers (from {result.layer_source})")
    else:
        print(f"The build of {result.model_name} failed with {result.backend}:")
        for problem in result.problems:
            print_problem(problem)
    for name, text in (commands or {}).items():
        print(f"\n{name}:\n  {text}")


def _fix_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="ONNX model file (never modified)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--recipe", help="TOML recipe whose [[fixes]] steps are replayed in order")
    source.add_argument("--apply", action="append", metavar="NAME[:key=value,…]",
                        help="a fix to apply (repeatable, applied in order), e.g. "
                             "set-input-shape:input=images,shape=1x3x224x224 or cut-outputs:tensors=boxes;scores")
    parser.add_argument("-o", "--output", required=True, help="where to write the fixed model (written atomically)")
    parser.add_argument("--recipe-out", help="also write the applied steps as a recipe")
    parser.add_argument("--no-parity", action="store_true", help="skip the onnxruntime parity check")
    parser.add_argument("--overwrite-original", action="store_true",
                        help="allow -o to be the input model itself (refused otherwise)")


@command("fix", "apply catalogue fixes (or replay a recipe) and write the fixed model", _fix_arguments)
def run_fix(args) -> int:
    from workbench.core.fixes import FIXES, parse_spec, replay, steps_from_recipe
    from workbench.core.model.loading import load_model, save_model
    from workbench.core.compare.parity import BEYOND, CANNOT_JUDGE, check_parity
    from workbench.core.recipe import Recipe, load_recipe, save_recipe

    model = load_model(args.model)
    recipe = load_recipe(args.recipe) if args.recipe else Recipe(source_model=str(model.path))
    steps = steps_from_recipe(recipe) if args.recipe else [parse_spec(spec) for spec in args.apply]
    if not steps:
        raise WorkbenchError("The recipe has no [[fixes]] steps.", f"Available fixes: {', '.join(FIXES)}.")
    results = replay(model, steps)
    fixed = results[-1].after
    parity = None
    if not args.no_parity:
        frozen = {name: value for result in results for name, value in result.frozen_inputs.items()}
        parity = check_parity(model, fixed, frozen_inputs=frozen)
    written = save_model(fixed.proto, args.output, protect=None if args.overwrite_original else model.path)
    recipe.fixes = [step.to_dict() for step in steps]
    recipe_written = save_recipe(recipe, args.recipe_out) if args.recipe_out else None
    if args.json:
        print_json({"model": str(model.path), "output": str(written), "recipe": str(recipe_written or ""),
                    "steps": [r.to_dict() for r in results], "parity": parity.to_dict() if parity else None})
    else:
        for index, result in enumerate(results, 1):
            print(f"{index}. {result.step.spec()}: {result.preview.summary()}")
            print(f"   result: {result.validation.text}")
            for warning in result.warnings:
                print(f"   warning: {warning}")
        if parity:
            print(f"Parity vs the original (onnxruntime, seed {parity.seed}): {parity.text}")
        print(f"Wrote {written}" + (f" and recipe {recipe_written}" if recipe_written else ""))
    return EXIT_PROBLEMS if parity and parity.verdict in (BEYOND, CANNOT_JUDGE) else EXIT_OK


def _repair_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="ONNX model file (never modified)")
    parser.add_argument("--input-value", action="append", default=[], metavar="NAME=VALUE",
                        help="value to freeze a switch input at (e.g. downsample_ratio=0.25; several values of one "
                             "input separated by ';'); tried before the values the model itself suggests")
    parser.add_argument("-o", "--output", required=True, help="where to write the repaired model (atomically)")
    parser.add_argument("--recipe-out", required=True, help="where to write the repair as a recipe (fixes, profile)")
    parser.add_argument("--accept-changes", action="store_true",
                        help="write the repair even if a step freezes an input, fixes a shape, cuts outputs or "
                             "changes outputs beyond tolerance")
    parser.add_argument("--budget", type=float, metavar="SECONDS", help="time budget for the search (default 120)")


@command("repair", "search for fixes and/or a profile that make the model build, and write them", _repair_arguments)
def run_repair(args) -> int:
    from workbench.core.backend import load_backend
    from workbench.core.model.loading import load_model, save_model
    from workbench.core.progress import no_progress
    from workbench.core.recipe import save_recipe
    from workbench.core.repair import DEFAULT_BUDGET_SECONDS, parse_input_values, repair_model

    model = load_model(args.model)
    show = (lambda phase, _fraction=None: print(f"  {phase}…", file=sys.stderr)) \
        if not args.json and sys.stderr.isatty() else no_progress
    result = repair_model(model, input_values=parse_input_values(args.input_value),
                          backend=load_backend(args.backend), budget_seconds=args.budget or DEFAULT_BUDGET_SECONDS, progress=show)
    refused = result.found and result.needs_confirmation and not args.accept_changes
    written = recipe_written = None
    if result.found and not refused:
        written = save_model(result.model.full_proto(), args.output, protect=model.path)
        recipe_written = save_recipe(result.recipe(), args.recipe_out)
    if args.json:
        print_json({**result.to_dict(), "output": str(written or ""), "recipe_out": str(recipe_written or ""),
                    "written": written is not None})
    else:
        print(result.message)
        for index, step in enumerate(result.steps, 1):
            print(f"{index}. {step.title}\n   why: {step.reason}")
            if step.parity:
                print(f"   parity: {step.parity.text}")
            if step.confirm:
                print(f"   changes meaning: {step.confirm}")
        if refused:
            print("Nothing written: the steps above change what the model means; rerun with --accept-changes "
                  "to write them.")
        elif written:
            print(f"Wrote {written} and recipe {recipe_written}")
    if result.status == "nothing-to-repair":
        return EXIT_OK
    return EXIT_OK if written else EXIT_PROBLEMS


from workbench.split_command import add_split_arguments, run_split  # noqa: E402  (moves into the cli package)

command("split", "run what TensorRT builds as an engine and the rest under onnxruntime",
        add_split_arguments)(lambda args: run_split(args, sys.modules[__name__]))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trt-workbench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"TensorRT Workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add_arguments, _run) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text)
        add_arguments(command_parser)
        _common(command_parser)
    return parser


def _run_gui(argv: list[str]) -> int:
    from workbench.ui.app import run_app

    return run_app(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version"):
        return _run_gui(argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage and the error on stderr
        if "--json" in argv and exc.code:
            _write_json({"error": {"message": "Invalid command line (see the usage on stderr).", "hint":
                                   f"trt-workbench {argv[0]} --help lists the options.", "detail": ""}, "log": []})
        raise
    _help, _add, run = COMMANDS[args.command]
    from workbench.core.third_party_logs import capture_output  # imports onnxruntime: not for the window

    _json_reply.clear()
    # Third-party libraries print on their own (onnx-graphsurgeon on stdout, onnxruntime's native
    # logger on fd 2): catch it all, so --json's stdout holds one object and the lines become our log.
    with capture_output(stdout_too=args.json) as captured:
        code, error = _run_command(run, args)
    log = [message for message in captured.messages if message.source != "stderr"]
    for message in captured.messages:
        if message.source == "stderr":  # not a library we know: pass it on unchanged
            print(message.text, file=sys.stderr)
    if args.json:
        reply = dict(_json_reply) if error is None else {"error": {"message": error.message, "hint": error.hint,
                                                                    "detail": error.detail}}
        reply["log"] = [asdict(message) for message in log]
        _write_json(reply)
    else:
        _print_library_log(log, args.debug)
    return code


def _print_library_log(log: list, debug: bool) -> None:
    """Text mode: the libraries' warnings in one line per source (all of them with --debug); what
    matters to a result (e.g. a fold that could not run) is already in that result's own warnings."""
    serious = [m for m in log if m.severity in ("warning", "error", "internal_error")]
    if debug:
        for message in serious:
            print(f"{message.source} {message.severity}: {message.text}", file=sys.stderr)
        return
    for source in dict.fromkeys(m.source for m in serious):
        count = sum(m.source == source for m in serious)
        print(f"note: {source} logged {count} warning(s) or error(s); --debug prints them, --json lists them "
              "under 'log'.", file=sys.stderr)


def _write_json(data: dict) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _run_command(run: Callable, args) -> tuple[int, WorkbenchError | None]:
    """(exit code, the error that stopped the command); errors are also printed on stderr."""
    try:
        return run(args), None
    except WorkbenchError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        if args.debug:
            if exc.detail:
                print(exc.detail, file=sys.stderr)
            traceback.print_exc()
        return EXIT_ERROR, exc
    except Exception as exc:  # an unexpected failure still gets a one-line message, not a traceback
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("hint: run again with --debug for the traceback, and report it.", file=sys.stderr)
        if args.debug:
            traceback.print_exc()
        return EXIT_ERROR, WorkbenchError(f"{type(exc).__name__}: {exc}", "Run again with --debug for the "
                                          "traceback, and report it.", traceback.format_exc())


if __name__ == "__main__":
    sys.exit(main())
