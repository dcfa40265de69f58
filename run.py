#!/usr/bin/env python
"""Thin wrapper over the ``lavr`` console script: ``python run.py ask IMAGE "QUESTION"``."""

import sys

from lavr.cli import main

if __name__ == "__main__":
    sys.exit(main())
