import sys

from archi2vec._cli import main

sys.exit(main())
