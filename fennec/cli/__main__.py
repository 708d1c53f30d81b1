import sys

from fennec.cli import main

sys.exit(main())
