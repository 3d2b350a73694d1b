"""``python -m asyncdb.transfer export|import|migrate ...``"""

import sys

from asyncdb.transfer._cli import main

sys.exit(main())
