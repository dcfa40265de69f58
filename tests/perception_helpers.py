"""Shared by the perception tests: whether the human-models weights are installed here."""

from __future__ import annotations

import pytest


def models_problem() -> str | None:
    """``None`` when every model lavr uses is installed and checks out; else the first problem."""
    from lavr.perception.install import MODELS, model_problem
    from lavr.settings import Settings

    problems = [p for name in MODELS if (p := model_problem(Settings(), name))]
    return problems[0] if problems else None


_PROBLEM = models_problem()
needs_models = pytest.mark.skipif(_PROBLEM is not None, reason=f"human-models not installed ({_PROBLEM}); run "
                                  "`lavr models install`")
