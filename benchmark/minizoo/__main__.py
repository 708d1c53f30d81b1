"""``python -m benchmark.minizoo``."""
import sys

from ._cli import main

sys.exit(main())
