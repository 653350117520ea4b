"""Support analysis: TensorRT's real ONNX parser, and running it off the GUI thread."""
