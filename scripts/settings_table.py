#!/usr/bin/env python
"""Write the README's settings table (every ``LAVR_*`` variable, by group) from ``lavr.settings``.

    python scripts/settings_table.py           # rewrite the table between the README's markers
    python scripts/settings_table.py --check   # exit 1 when the README's table is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lavr.settings import settings_table

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def readme_table(text: str) -> str:
    """The text between the markers (``ValueError`` when they are missing)."""
    head, found, rest = text.partition(START)
    body, found_end, _ = rest.partition(END)
    if not (found and found_end):
        raise ValueError(f"README.md has no {START} ... {END} block")
    return body.strip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the README's table is current")
    args = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    table = settings_table()
    if readme_table(text) == table:
        return 0
    if args.check:
        print("README.md: the settings table is out of date; run python scripts/settings_table.py", file=sys.stderr)
        return 1
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    README.write_text(f"{head}{START}\n{table}{END}{tail}", encoding="utf-8")
    print(f"wrote the settings table to {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
