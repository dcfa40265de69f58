"""The README's settings table is every LAVR_* variable the package reads, as lavr.settings renders it."""

import re
import sys

from conftest import REPO

from lavr.settings import SETTING_GROUPS, Settings, settings_table

sys.path.insert(0, str(REPO / "scripts"))
from settings_table import readme_table  # noqa: E402

ENV_READ = re.compile(r"""(?:environ(?:\.get)?\s*[\[(]|getenv\s*\()\s*["'](LAVR_[A-Z0-9_]+)""")
MENTION = re.compile(r"\bLAVR_[A-Z0-9_]*[A-Z0-9]\b")


def table_variables(text: str) -> set[str]:
    return set(re.findall(r"^\| `(LAVR_[A-Z0-9_]+)` \|", text, re.MULTILINE))


def test_the_readme_shows_the_generated_table():
    assert readme_table((REPO / "README.md").read_text(encoding="utf-8")) == settings_table(), \
        "run python scripts/settings_table.py"


def test_the_table_lists_every_variable_the_package_reads_and_no_other():
    sources = {p: p.read_text(encoding="utf-8") for p in (REPO / "lavr").rglob("*.py")}
    read_directly = {v for text in sources.values() for v in ENV_READ.findall(text)}
    fields = {f"LAVR_{name.upper()}" for name in Settings.model_fields}
    listed = table_variables(settings_table())
    assert listed == fields | read_directly
    mentioned = {(v, p.name) for p, text in sources.items() for v in MENTION.findall(text)}
    assert {m for m in mentioned if m[0] not in listed} == set()  # the code names no variable the table lacks


def test_every_setting_is_in_exactly_one_group_and_described():
    grouped = [name for group in SETTING_GROUPS for name in group.model_fields]
    assert sorted(grouped) == sorted(Settings.model_fields) and len(set(grouped)) == len(grouped)
    assert [n for n, f in Settings.model_fields.items() if not f.description] == []
