"""``python -m lavr ...``: the same as the ``lavr`` command."""

import sys

from .cli import main

sys.exit(main())
