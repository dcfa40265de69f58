"""Where the CPU reports AMX, the embedded LLM loads without llama.cpp's extra weight buffers (their AMX tile
instructions were seen to die with SIGILL in a VM); elsewhere the defaults stand."""

from __future__ import annotations

import pytest

from lavr.backends.llama_cpp import cpu_reports_amx, weight_repacking

SAPPHIRE = "processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_bf16 amx_tile amx_int8 avx512_fp16\n"
ZEN = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n"


@pytest.mark.parametrize("text,expected", [(SAPPHIRE, True), (ZEN, False), ("", False)])
def test_amx_is_read_from_the_cpu_flags(tmp_path, text, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(text)
    assert cpu_reports_amx(cpuinfo) is expected


def test_an_unreadable_cpuinfo_means_no_amx(tmp_path):
    assert cpu_reports_amx(tmp_path / "missing") is False


def test_loading_without_repacking_turns_the_extra_buffers_off_only_while_it_lasts():
    low = pytest.importorskip("llama_cpp.llama_cpp")
    default = low.llama_model_default_params
    assert default().use_extra_bufts is True  # llama.cpp's default
    with weight_repacking(False):
        assert low.llama_model_default_params().use_extra_bufts is False
    assert low.llama_model_default_params is default
    with weight_repacking(True):
        assert low.llama_model_default_params is default
    with pytest.raises(RuntimeError), weight_repacking(False):
        raise RuntimeError("a failed load")
    assert low.llama_model_default_params is default  # restored however the load ends
