"""``python -m workbench.cli``, as the ``trt-workbench`` script."""

import sys

from workbench.cli import main

sys.exit(main())
