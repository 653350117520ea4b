"""The Compare panel's form: what the model is compared against, its inputs and the tolerances.

It edits an ``InputSpec`` and ``CompareSettings`` (kept in ``session.recipe.inputs`` / ``.compare``);
rows the chosen inputs do not use are hidden. The engine handed over by the Build panel belongs to
the model it was built from: another model clears it.
"""

from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QSpinBox, QWidget)

from workbench.core.compare.comparison import CompareSettings
from workbench.core.compare.inputs import LAYOUTS, ImageSource, InputSpec
from workbench.core.compare.metrics import Tolerances
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel
from workbench.ui.session import Session

SOURCES = ("Random (seeded)", "Data file (.npz / .npy)", "Images")
TARGETS = ("Original vs current model (onnxruntime)", "TensorRT engine")


def widget_row(*widgets: QWidget) -> QWidget:
    """Widgets side by side in one row, without margins (a form row holding several fields)."""
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return row


class CompareForm(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._engine_for: LoadedModel | None = None  # the model the engine in the form was built from (None: by hand)
        rows = self.rows = QFormLayout(self)
        rows.setContentsMargins(0, 0, 0, 0)
        self.target = QComboBox()
        self.target.addItems(TARGETS)
        self.target.currentIndexChanged.connect(self._update_rows)
        rows.addRow("Compare", self.target)
        self.engine_path = QLineEdit()
        self.engine_path.setPlaceholderText("engine from the last build, or choose one")
        self.choose_engine = QPushButton("Choose engine file…")
        self.choose_engine.clicked.connect(self._choose_engine)
        rows.addRow("Engine", widget_row(self.engine_path, self.choose_engine))

        self.source = QComboBox()
        self.source.addItems(SOURCES)
        self.source.currentIndexChanged.connect(self._update_rows)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        rows.addRow("Inputs", widget_row(self.source, self.seed))
        self.data_paths = QLineEdit()
        self.data_paths.setPlaceholderText("files; several separated by ';'")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._choose_data)
        self.files_row = widget_row(self.data_paths, self.browse)
        rows.addRow("Files", self.files_row)
        self.image_input = QComboBox()
        self.layout_choice = QComboBox()
        self.layout_choice.addItems(LAYOUTS)
        self.color = QComboBox()
        self.color.addItems(["RGB", "BGR", "L"])
        self.mean = QLineEdit("0")
        self.std = QLineEdit("1")
        self.mean.setToolTip("per-channel mean after scaling to [0, 1], e.g. 0.485, 0.456, 0.406")
        self.std.setToolTip("per-channel std, e.g. 0.229, 0.224, 0.225")
        self.image_row = widget_row(self.image_input, self.layout_choice, self.color, QLabel("mean"), self.mean,
                                    QLabel("std"), self.std)
        rows.addRow("Image prep", self.image_row)

        self.atol = QLineEdit()
        self.rtol = QLineEdit()
        self.bisect = QCheckBox("Layerwise bisect on mismatch")
        self.timing_runs = QSpinBox()
        self.timing_runs.setRange(0, 10000)
        self.timing_runs.setSpecialValueText("no timing")
        self.timing_runs.setSuffix(" timed runs")
        rows.addRow("Tolerances", widget_row(QLabel("atol"), self.atol, QLabel("rtol"), self.rtol, self.bisect,
                                             self.timing_runs))
        self._update_rows()

    # settings ↔ recipe
    def load_recipe(self) -> WorkbenchError | None:
        """Fill the form from the recipe; when the recipe cannot be read, from the defaults, returning why."""
        recipe = self.session.recipe
        error = None
        try:
            spec, settings = InputSpec.from_dict(recipe.inputs), CompareSettings.from_dict(recipe.compare)
        except WorkbenchError as exc:
            error = exc
            spec, settings = InputSpec(), CompareSettings()
        self.seed.setValue(spec.seed)
        if spec.images:
            self.source.setCurrentIndex(2)
            _name, images = next(iter(spec.images.items()))
            self.data_paths.setText(";".join(images.paths))
            self.layout_choice.setCurrentText(images.layout)
            self.color.setCurrentText(images.color)
            self.mean.setText(", ".join(f"{v:g}" for v in images.mean))
            self.std.setText(", ".join(f"{v:g}" for v in images.std))
        elif spec.data_files:
            self.source.setCurrentIndex(1)
            self.data_paths.setText(";".join(spec.data_files))
        self.target.setCurrentIndex(1 if settings.against == "engine" else 0)
        self.engine_path.setText(settings.engine_path)
        self.atol.setText(f"{settings.tolerances.atol:g}")
        self.rtol.setText(f"{settings.tolerances.rtol:g}")
        self.bisect.setChecked(settings.bisect)
        self.timing_runs.setValue(settings.timing_runs)
        return error

    @staticmethod
    def _floats(field: QLineEdit, what: str) -> tuple[float, ...]:
        try:
            values = tuple(float(v) for v in field.text().replace(",", " ").split())
        except ValueError:
            values = ()
        if not values:
            raise WorkbenchError(f"Cannot read {what} '{field.text()}'.", "Enter numbers, e.g. 1e-5 or 0.485, 0.456.")
        return values

    def input_spec(self) -> InputSpec:
        """The inputs as the form says (the recipe's other input settings kept); unreadable fields raise."""
        spec = InputSpec.from_dict(self.session.recipe.inputs)
        spec.seed = self.seed.value()
        paths = [p.strip() for p in self.data_paths.text().split(";") if p.strip()]
        spec.data_files, spec.images = [], {}
        if self.source.currentIndex() == 1:
            spec.data_files = paths
        elif self.source.currentIndex() == 2:
            spec.images = {self.image_input.currentText(): ImageSource(
                paths, layout=self.layout_choice.currentText(), color=self.color.currentText(),
                mean=self._floats(self.mean, "the image mean"), std=self._floats(self.std, "the image std"))}
        return spec

    def settings(self) -> CompareSettings:
        """The settings as the form says (the recipe's others kept); unreadable fields raise."""
        base = CompareSettings.from_dict(self.session.recipe.compare)
        tolerances = Tolerances(self._floats(self.atol, "atol")[0], self._floats(self.rtol, "rtol")[0],
                                base.tolerances.per_output, base.tolerances.infinities_compare_equal)
        return CompareSettings(against="engine" if self.target.currentIndex() == 1 else "model",
                               engine_path=self.engine_path.text().strip(), tolerances=tolerances, top_k=base.top_k,
                               profile_index=base.profile_index, timing_runs=self.timing_runs.value(),
                               warmup=base.warmup, bisect=self.bisect.isChecked())

    # the model and its engine
    def use_engine(self, path: str, built_from: LoadedModel | None) -> None:
        """Compare against the engine at ``path``, built from ``built_from``."""
        self.engine_path.setText(path)
        self._engine_for = built_from
        self.target.setCurrentIndex(1)

    def model_changed(self, model: LoadedModel | None) -> None:
        """An engine built from another model goes; the image input choices become this model's inputs."""
        if self._engine_for is not None and self._engine_for is not model:
            self.engine_path.clear()
            self._engine_for = None
        names = [t.name for t in model.summary().inputs] if model else []
        if names != [self.image_input.itemText(i) for i in range(self.image_input.count())]:
            self.image_input.clear()
            self.image_input.addItems(names)

    def _update_rows(self) -> None:
        engine = self.target.currentIndex() == 1
        self.engine_path.setEnabled(engine)
        self.choose_engine.setEnabled(engine)
        source = self.source.currentIndex()
        # Rows the chosen inputs do not use are hidden, which keeps the results in view on a short screen.
        self.rows.setRowVisible(self.files_row, source > 0)
        self.rows.setRowVisible(self.image_row, source == 2)

    def _choose_engine(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a TensorRT engine", "",
                                              "TensorRT engines (*.engine *.plan *.trt);;All files (*)")
        if path:
            self.engine_path.setText(path)

    def _choose_data(self) -> None:
        if self.source.currentIndex() == 2:
            paths, _ = QFileDialog.getOpenFileNames(self, "Choose images", "",
                                                    "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp)")
        else:
            paths, _ = QFileDialog.getOpenFileNames(self, "Choose input data", "", "NumPy data (*.npz *.npy)")
        if paths:
            self.data_paths.setText(";".join(paths))
