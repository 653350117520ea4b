"""Start TensorRT Workbench: ``python main.py [MODEL]`` (same as ``trt-workbench``)."""

import sys

from workbench.cli import main

if __name__ == "__main__":
    sys.exit(main())
