"""Files the app reads at run time, shipped inside the package: the bundled sample models, the icon, the
desktop entry and the ONNX MIME type. They are found with ``importlib.resources``, so an installed app (a
wheel, ``pipx``) reads them from its own package and never from a source checkout. ``resources/make_samples.py``
at the top of the checkout writes the samples; the tests check the committed files match it. No Qt here.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

# A regular package installed from a wheel is a folder on disk, so this is a real path Qt and onnx can open.
PACKAGE_DIR = Path(str(files(__name__)))
SAMPLES_DIR = PACKAGE_DIR / "samples"
DEFAULT_SAMPLE = SAMPLES_DIR / "clean_cnn.onnx"
ICON = PACKAGE_DIR / "icons" / "trt-workbench.svg"
DESKTOP_DIR = PACKAGE_DIR / "desktop"


def sample_names() -> list[str]:
    """The bundled samples' names, without ``.onnx`` (what ``trt-workbench analyze NAME`` accepts)."""
    return sorted(path.stem for path in SAMPLES_DIR.glob("*.onnx"))


def model_path(text: str) -> str:
    """A model named on the command line: the path itself, or, when no such file exists and TEXT is a bundled
    sample's name (``clean_cnn`` or ``clean_cnn.onnx``), that sample. The model's path is shown with its summary
    and in the window's log, so the user sees which file was opened."""
    if Path(text).expanduser().exists():
        return text
    sample = SAMPLES_DIR / (text if text.endswith(".onnx") else f"{text}.onnx")
    return str(sample) if Path(text).name == text and sample.is_file() else text
