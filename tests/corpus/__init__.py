"""Real PyTorch ONNX exports (see make_corpus.py) and what is known about them (catalog.py)."""
