"""Shared fixtures. No test touches the network: sockets may only connect to loopback."""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import socket
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")
REPO = Path(__file__).resolve().parents[1]
# Assembled models persist between test runs here (gitignored); every test's cache is its own tmp dir.
os.environ.setdefault("LAVR_DATA_DIR", str(REPO / ".lavr-data"))
# The human-models weights (COCO detectors, pose, face attributes): tests never install them (npm would reach the
# registry). Where they are installed in the data folder, tests that give Settings a tmp data folder of their own
# read them from there; where they are not, detect falls back to the person detector and model tests skip.
os.environ.setdefault("LAVR_HUMAN_MODELS_AUTO_INSTALL", "false")
_HUMAN_MODELS = Path(os.environ["LAVR_DATA_DIR"]) / "models" / "human-models-3.0.4"
if "LAVR_HUMAN_MODELS_DIR" not in os.environ and (_HUMAN_MODELS / "models").is_dir():
    os.environ["LAVR_HUMAN_MODELS_DIR"] = str(_HUMAN_MODELS)

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None:
        try:
            ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            ok = False
        if not ok:
            raise OSError(f"tests may not use the network (tried {host})")
    return _real_connect(self, address)


socket.socket.connect = _loopback_only  # type: ignore[method-assign]


def package_file(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, f"{package} is not installed"
    return Path(list(spec.submodule_search_locations)[0]) / relative


@pytest.fixture(scope="session")
def bus_jpg() -> Path:
    return package_file("ultralytics", "assets/bus.jpg")


@pytest.fixture(scope="session")
def zidane_jpg() -> Path:
    return package_file("ultralytics", "assets/zidane.jpg")


@pytest.fixture
def settings(tmp_path: Path):
    from lavr.settings import Settings

    return Settings(data_dir=tmp_path / "data", llm="scripted")


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
