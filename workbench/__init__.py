"""TensorRT Workbench: triage, fix, build and verify ONNX models for TensorRT in one window."""

__version__ = "0.1.0"
