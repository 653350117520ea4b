"""Qt-free core of TensorRT Workbench: everything the window and the CLI do to a model.

Nothing under ``workbench.core`` imports Qt; the UI and the CLI are thin layers over it.
"""
