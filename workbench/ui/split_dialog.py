"""The split dialog (Repair → Split for TensorRT…): what runs in TensorRT, what in onnxruntime, and why.

``split_model`` runs in a worker with progress and Cancel; the result lists the parts (runtime, file,
nodes, inputs and outputs), which problem forced each node out of TensorRT, the boundary tensors with
dtype and shape, the TensorRT part's build, and the chained outputs' verdicts against the original.
*Write folder…* writes the parts, ``split.toml`` and ``run_split.py`` (``trt-workbench split`` also
writes the engine). *Keep the TensorRT part* makes that part the window's model as one undoable step
(the recipe replays it as ``cut-outputs`` and remembers the whole split in its ``[split]`` section).
The graph marks the parts while a result is shown.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDialog, QFileDialog, QLabel, QPushButton, QTextBrowser, QWidget

from workbench.core.errors import WorkbenchError
from workbench.core.fixes.apply import FixResult, apply_fix, step_from_dict
from workbench.core.progress import CancelToken, ProgressFn, no_progress
from workbench.core.shapes.profiles import profiles_from_recipe
from workbench.core.split.deploy import prepare_folder, tensorrt_part_cut, write_split_folder
from workbench.core.split.partition import ONNXRUNTIME, TENSORRT
from workbench.core.split.split import SplitResult, split_model
from workbench.ui import palette
from workbench.ui.session import Session
from workbench.ui.job_controls import JobControls, ask_for_folder, job_dialog_layout
from workbench.ui.worker import Worker

SHOWN_REASONS = 6  # per part; the rest are counted
_RUNTIME_COLOURS = {TENSORRT: palette.PASS, ONNXRUNTIME: palette.UNSUPPORTED}  # TensorRT takes it, or not


def split_html(result: SplitResult) -> str:
    builds = {b.part: b for b in result.builds}
    rows = []  # the message itself is the dialog's status line
    for part in result.parts:
        colour = _RUNTIME_COLOURS[part.runtime]
        rows.append(f"<p><b>Part {part.index + 1}: <span style='color:{colour}'>{escape(part.runtime)}</span></b> "
                    f"— {escape(part.file)}, {len(part.nodes)} nodes<br>in: {escape(', '.join(part.inputs))}"
                    f"<br>out: {escape(', '.join(part.outputs))}")
        build = builds.get(part.index)
        if build is not None:
            state = (f"<span style='color:{palette.PASS}'>builds</span>" if build.succeeded else
                     f"<span style='color:{palette.FAIL}'>does NOT build</span>")
            rows.append(f"<br>TensorRT {state}" + (f" with {escape('; '.join(build.profile_reasons))}"
                                                   if build.profile_reasons else ""))
        reasons = list(part.reasons.items())
        for node, why in reasons[:SHOWN_REASONS]:
            rows.append(f"<br>&nbsp;&nbsp;<i>{escape(node)}</i>: {escape(why)}")
        if len(reasons) > SHOWN_REASONS:
            rows.append(f"<br>&nbsp;&nbsp;… and {len(reasons) - SHOWN_REASONS} more node(s)")
        rows.append("</p>")
    if result.boundaries:
        rows.append("<p><b>Boundary tensors</b><table cellspacing=6><tr><th align=left>tensor</th>"
                    "<th align=left>dtype</th><th align=left>shape</th><th align=left>ran as</th>"
                    "<th align=left>from → to</th></tr>")
        for b in result.boundaries:
            rows.append(f"<tr><td>{escape(b.name)}</td><td>{b.dtype}</td><td>{escape(str(b.shape))}</td>"
                        f"<td>{b.observed_shape}</td><td>part {b.producer + 1} → "
                        f"{', '.join(str(c + 1) for c in b.consumers)}</td></tr>")
        rows.append("</table></p>")
    if result.comparison:
        rows.append(f"<p><b>Chained run vs the original (onnxruntime)</b><br>{escape(result.ran_with)}")
        for c in result.comparison:
            colour = palette.PASS if c.passed else palette.FAIL
            rows.append(f"<br>{escape(c.name)}: <span style='color:{colour}'>{c.verdict}</span> — {escape(c.reason)}")
        rows.append("</p>")
    return "".join(rows)


def write_folder(split: SplitResult, folder: Path, backend_name: str, *, progress: ProgressFn = no_progress,
                 cancel: CancelToken | None = None) -> list[Path]:
    """The split's folder, written off the GUI thread (its parts hold the model's weights)."""
    try:
        return write_split_folder(split, folder, backend_name)
    except OSError as exc:
        raise WorkbenchError(f"Could not write the split to {folder}: {exc}", "Choose a folder you can write to.",
                             str(exc)) from exc


class SplitDialog(QDialog):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setWindowTitle("Split for TensorRT")
        self.resize(900, 560)
        self.jobs = JobControls(session, "Split again", can_run=lambda: self.session.model is not None)
        self.split_button, self.cancel_button = self.jobs.run_button, self.jobs.cancel_button
        self.split_task = self.jobs.add_task(self, "split", on_done=self._show_result, on_error=self._failed,
                                             on_cancelled=self._cancelled, on_end=self._update_buttons,
                                             errors_in_place=True)
        self.apply_task = self.jobs.add_task(self, "split", on_done=self._cut_made, on_error=self._failed,
                                             on_cancelled=self._keep_cancelled, on_end=self._update_buttons,
                                             errors_in_place=True)
        self.write_task = self.jobs.add_task(self, "split", on_done=self._written, on_error=self._write_failed,
                                             on_end=self._update_buttons, errors_in_place=True)
        self.split_result: SplitResult | None = None
        self.file_dialog: QFileDialog | None = None
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.view = QTextBrowser()
        self.write_button = QPushButton("Write folder…")
        self.apply_button = QPushButton("Keep the TensorRT part")
        job_dialog_layout(self, self.jobs, self.status, self.view, [self.apply_button, self.write_button])
        self.split_button.clicked.connect(self.split)
        self.write_button.clicked.connect(self.write_dialog)
        self.apply_button.clicked.connect(self.keep_tensorrt_part)
        self._update_buttons()

    def split(self) -> Worker | None:
        if self.session.model is None or self.split_task.running:
            return None
        try:
            profiles = profiles_from_recipe(self.session.recipe.profiles) or None
        except WorkbenchError as exc:
            self.status.setText(f"{exc.message} {exc.hint}")
            self.session.report_error(exc, "split", shown_in_place=True)
            return None
        self.split_result = None
        self.view.clear()
        self.status.setText(f"Splitting {self.session.model.name}…")
        worker = self.jobs.start(self.split_task, split_model, self.session.model, profiles=profiles,
                                 backend=self.session.backend)
        self._update_buttons()
        return worker

    def cancel(self) -> None:
        self.jobs.cancel()

    def _failed(self, error: WorkbenchError) -> None:
        self.status.setText(f"The split failed: {error.message} {error.hint}")

    def _cancelled(self) -> None:
        self.status.setText("Split cancelled: nothing was written.")

    def _keep_cancelled(self) -> None:
        self.status.setText("Keeping the TensorRT part was cancelled: the model is unchanged.")

    def _show_result(self, result: SplitResult) -> None:
        self.split_result = result
        self.status.setText(result.message)
        self.view.setHtml(split_html(result))
        self.session.log("info", f"Split: {result.message}")
        self.session.split_shown.emit(result)

    def keep_tensorrt_part(self) -> Worker | None:
        """Cut the model at the TensorRT part's outputs (validated like any fix), then apply it as one step."""
        split = self.split_result
        cut = tensorrt_part_cut(split) if split is not None else None
        if split is None or cut is None or self.apply_task.running or split.model is not self.session.model:
            return None
        self.status.setText("Keeping the TensorRT part…")
        worker = self.jobs.start(self.apply_task, apply_fix, self.session.model, step_from_dict(cut))
        self._update_buttons()
        return worker

    def _cut_made(self, cut: FixResult) -> None:
        split = self.split_result
        assert split is not None, "keep_tensorrt_part cuts only a shown split"
        try:
            self.session.apply_split(split, cut)
        except WorkbenchError as exc:
            self._failed(exc)
            return
        self.status.setText(f"The model is now the TensorRT part ({len(split.parts[0].nodes)} nodes); "
                            "Undo in the History panel brings the whole model back.")

    def _update_buttons(self) -> None:
        busy = self.jobs.running
        split = self.split_result
        cut = tensorrt_part_cut(split) if split is not None and split.succeeded else None
        self.apply_button.setEnabled(not busy and cut is not None and split is not None
                                     and split.model is self.session.model)
        self.apply_button.setToolTip(
            "The model becomes the split's TensorRT part (undoable); the recipe remembers the whole split"
            if cut is not None else "Available after a split whose first part runs in TensorRT and proves equal")
        self.jobs.refresh()
        self.write_button.setEnabled(not busy and self.split_result is not None and bool(self.split_result.parts))

    def closeEvent(self, event: QCloseEvent) -> None:
        self.cancel()
        self.session.split_shown.emit(None)  # the graph stops marking the parts
        super().closeEvent(event)

    def write_dialog(self) -> QFileDialog:
        self.file_dialog = ask_for_folder(self, "Folder for the split", self.write_to)
        return self.file_dialog

    def write_to(self, folder: str | Path) -> Worker | None:
        split = self.split_result
        if split is None or self.jobs.running:  # nothing split yet, or busy (the Write button is disabled then)
            return None
        try:
            target = prepare_folder(folder, split.model.path)
        except WorkbenchError as exc:
            self._write_failed(exc)
            return None
        self.status.setText(f"Writing the split to {target}…")
        worker = self.jobs.start(self.write_task, write_folder, split, target, self.session.backend.name)
        self._update_buttons()
        return worker

    def _written(self, written: list[Path]) -> None:
        folder = written[0].parent
        self.status.setText(f"Wrote {len(written)} files to {folder} (no engine: `trt-workbench build MODEL "
                            "--recipe split.toml` builds it)")
        self.session.log("info", f"Wrote the split to {folder}")

    def _write_failed(self, error: WorkbenchError) -> None:
        self.status.setText(f"Could not write the split: {error.message}")
