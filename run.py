#!/usr/bin/env python
"""Thin wrapper over the ``lavr`` console script: ``python run.py ask IMAGE "QUESTION"``."""

from lavr.cli import entry

if __name__ == "__main__":
    entry()
