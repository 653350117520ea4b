"""Comparison reports: a JSON file for machines and one self-contained HTML file for people.

The HTML carries its plots inside it (histograms as inline SVG, |error| heatmaps as base64 PNG),
so it can be mailed or attached to a bug as a single file. Both files are written atomically.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from workbench import __version__
from workbench.core.compare.comparison import CompareResult
from workbench.core.errors import WorkbenchError
from workbench.core.compare.metrics import Verdict, abs_error, error_heatmap, error_histogram
from workbench.core.files import write_atomically

# A perceptually ordered dark-blue → yellow ramp (viridis anchor colours) for heatmaps.
_RAMP = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], np.float32)
_HEATMAP_MAX_SIDE = 512
# CSS class per verdict (one colour each in _CSS: green, red, amber).
VERDICT_CLASSES = {Verdict.PASS: "pass", Verdict.FAIL: "fail", Verdict.CANNOT_JUDGE: "cannot-judge"}


def report_dict(result: CompareResult) -> dict:
    return {"tool": f"TensorRT Workbench {__version__}", "created": datetime.now(timezone.utc).isoformat(),
            **result.to_dict()}


def write_report(result: CompareResult, path: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.html`` next to each other; returns both paths."""
    base = check_destination(path)
    data = report_dict(result)
    json_path, html_path = base.with_suffix(".json"), base.with_suffix(".html")
    _write_atomic(json_path, json.dumps(data, indent=2, default=str))
    _write_atomic(html_path, render_html(result, data))
    return json_path, html_path


def check_destination(path: str | os.PathLike) -> Path:
    """The resolved report path, or a clear error before any work is done."""
    base = Path(path).expanduser().resolve()
    if not base.parent.is_dir():
        raise WorkbenchError(f"The folder {base.parent} does not exist.", "Choose an existing folder for the report.")
    return base


def _write_atomic(path: Path, text: str) -> None:
    try:
        write_atomically(path, text)
    except OSError as exc:
        raise WorkbenchError(f"Could not write {path.name}: {exc.strerror}.", "Check free disk space and permissions.",
                             str(exc)) from exc


def _number(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def _table(headers: list[str], rows: list[list], row_classes: list[str] | None = None,
           row_notes: list[str] | None = None) -> str:
    """An HTML table; ``row_notes`` adds under each row a full-width line of text (e.g. a verdict's reason)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{row_classes[i]}"' if row_classes else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(_number(c))}</td>" for c in row) + "</tr>")
        if row_notes:
            body.append(f"<tr{cls}><td class='note' colspan='{len(headers)}'>{html.escape(row_notes[i])}</td></tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def histogram_svg(counts: np.ndarray, edges: np.ndarray, width: int = 420, height: int = 160) -> str:
    """Bars of the log10|error| histogram as an inline SVG."""
    if counts.size == 0:
        return "<p class='muted'>All errors are exactly zero.</p>"
    pad, top = 30, float(counts.max()) or 1.0
    bar = (width - 2 * pad) / counts.size
    bars = "".join(
        f'<rect x="{pad + i * bar:.1f}" y="{height - pad - (c / top) * (height - 2 * pad):.1f}" '
        f'width="{max(bar - 1, 1):.1f}" height="{(c / top) * (height - 2 * pad):.1f}" fill="#3b528b"/>'
        for i, c in enumerate(counts) if c)
    labels = (f'<text x="{pad}" y="{height - 8}" font-size="11">1e{edges[0]:.1f}</text>'
              f'<text x="{width - pad}" y="{height - 8}" font-size="11" text-anchor="end">1e{edges[-1]:.1f}</text>'
              f'<text x="{width / 2}" y="{height - 8}" font-size="11" text-anchor="middle">|error| (log scale)</text>'
              f'<text x="{pad}" y="14" font-size="11">max count {int(top)}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">'
            f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#888"/>'
            f"{bars}{labels}</svg>")


def heatmap_png(error_map: np.ndarray) -> bytes:
    """|error| as a colour image (viridis ramp, linear from 0 to the max), downsampled to fit 512 px."""
    from PIL import Image

    values = np.nan_to_num(np.asarray(error_map, np.float32), nan=0.0, posinf=0.0)
    step = max(1, math.ceil(max(values.shape) / _HEATMAP_MAX_SIDE))
    values = values[::step, ::step]
    top = float(values.max())
    scaled = values / top if top > 0 else values
    position = scaled * (len(_RAMP) - 1)
    low = np.clip(np.floor(position).astype(int), 0, len(_RAMP) - 2)
    fraction = (position - low)[..., None]
    rgb = (_RAMP[low] * (1 - fraction) + _RAMP[low + 1] * fraction).astype(np.uint8)
    image = Image.fromarray(rgb, "RGB")
    if max(image.size) < 128:  # tiny maps: enlarge with visible cells
        factor = 128 // max(image.size)
        image = image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _plots(result: CompareResult) -> str:
    sections = []
    for output in result.outputs:
        if output.name not in result.arrays:
            continue
        reference, test = result.arrays[output.name]
        if reference.shape != test.shape or reference.size == 0:
            continue
        error = abs_error(reference, test)
        parts = [f"<h3>{html.escape(output.name)}</h3><div class='plots'>"
                 f"<figure>{histogram_svg(*error_histogram(error))}"
                 "<figcaption>Distribution of |error|</figcaption></figure>"]
        error_map = error_heatmap(error)
        if error_map is not None:
            encoded = base64.b64encode(heatmap_png(error_map)).decode("ascii")
            caption = "|error| map" + (" (first batch item, max over channels)" if error.ndim == 4 else "")
            parts.append(f"<figure><img alt='|error| heatmap of {html.escape(output.name)}' "
                         f"src='data:image/png;base64,{encoded}'><figcaption>{caption}, 0 to "
                         f"{_number(float(np.nanmax(error_map)) if error_map.size else 0.0)}</figcaption></figure>")
        sections.append("".join(parts) + "</div>")
    return "".join(sections)


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f2f2f2}td:first-child{text-align:left}
td{white-space:nowrap}td.note{white-space:normal;text-align:left;border-top:none;padding-left:2em}
tr.pass td{background:#e6f4ea}tr.fail td{background:#fce8e6}tr.cannot-judge td{background:#fef3d6}
.verdict{font-size:1.3em;padding:.4em .8em;display:inline-block}
.verdict.pass{background:#e6f4ea;color:#137333}.verdict.fail{background:#fce8e6;color:#a50e0e}
.verdict.cannot-judge{background:#fef3d6;color:#7a5200}.muted{color:#777}
.plots{display:flex;gap:2em;flex-wrap:wrap}figure{margin:0}img{image-rendering:pixelated;max-width:520px}"""

OUTPUT_HEADERS = ["output", "shape", "dtype", "max |err|", "mean |err|", "max rel", "mean rel", "cosine", "outside tol",
                  "NaN ref/test", "Inf ref/test", "top-1 / top-k", "verdict"]


def _outputs_table(result: CompareResult) -> str:
    """One row of figures per output, and its verdict's reason on a full-width line under it."""
    rows: list[list[object]] = [
        [o.name, "×".join(map(str, o.shape)), o.dtype, o.max_abs, o.mean_abs, o.max_rel, o.mean_rel,
         f"{o.cosine:.6f}", f"{o.outside_fraction:.2%}", f"{o.nan_ref}/{o.nan_test}", f"{o.inf_ref}/{o.inf_test}",
         "–" if o.top1_agreement is None else f"{o.top1_agreement:.0%} / {o.topk_agreement:.0%} (k={o.top_k})",
         str(o.verdict)] for o in result.outputs]
    rows += [[name, *[""] * 11, str(Verdict.FAIL)] for name in result.missing_outputs]
    reasons = [o.reason for o in result.outputs] + ["missing: the test side has no such output"] * len(
        result.missing_outputs)
    classes = [VERDICT_CLASSES[o.verdict] for o in result.outputs] + ["fail"] * len(result.missing_outputs)
    return _table(OUTPUT_HEADERS, rows, classes, reasons)


def render_html(result: CompareResult, data: dict | None = None) -> str:
    data = data or report_dict(result)
    outputs = _outputs_table(result)
    inputs = _table(["input", "shape", "dtype", "source"],
                    [[i["name"], "×".join(map(str, i["shape"])), i["dtype"], i["source"]] for i in result.inputs])
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Comparison: {html.escape(result.test)}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(result.reference)} vs {html.escape(result.test)}</h1>",
             f"<p class='verdict {VERDICT_CLASSES[result.verdict]}'>{html.escape(result.summary)}</p>",
             f"<p class='muted'>{html.escape(data['tool'])}, {html.escape(data['created'])}; "
             f"atol {result.tolerances.atol:g}, rtol {result.tolerances.rtol:g} (an element fails when |error| > atol "
             "and |error|/|ref| > rtol; NaN always fails). On top of that rule an output fails when cosine "
             "similarity, top-k classes or the relative error of its large elements disagree, and the tolerance "
             "cannot judge an output whose values are all below 10 × atol.</p>",
             "<h2>Inputs</h2>", inputs, "<h2>Outputs</h2>", outputs]
    if result.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in result.notes) + "</ul>")
    if result.bisect:
        parts.append(f"<h2>Layerwise bisect</h2><p>{html.escape(result.bisect.message)}</p>"
                     f"<p class='muted'>{result.bisect.checked} of {result.bisect.candidates} intermediate tensors "
                     f"checked in {result.bisect.runs} paired run(s).</p>")
    if result.timing:
        parts.append("<h2>Timing</h2>" + _table(
            ["runner", "runs", "min ms", "median ms", "p90 ms", "p99 ms", "inferences/s", "samples/s"],
            [[t.label, t.runs, t.min_ms, t.median_ms, t.p90_ms, t.p99_ms, t.inferences_per_s, t.samples_per_s]
             for t in result.timing]))
    plots = _plots(result)
    if plots:
        parts.append("<h2>Error plots</h2>" + plots)
    parts.append("</body></html>")
    return "\n".join(parts)
