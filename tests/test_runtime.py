from __future__ import annotations

import pytest
import torch

from sft_helpers import runtime


def test_fast_mode_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFT_FAST", "1")
    assert runtime.fast_mode() and runtime.pick(1, 2) == 1
    monkeypatch.setenv("SFT_FAST", "0")
    assert not runtime.fast_mode() and runtime.pick(1, 2) == 2
    monkeypatch.setenv("SFT_FAST", "maybe")
    with pytest.raises(ValueError, match="SFT_FAST"):
        runtime.fast_mode()


def test_device_override_and_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFT_DEVICE", "cpu")
    assert runtime.get_device() == torch.device("cpu")
    monkeypatch.setenv("SFT_DEVICE", "tpu")
    with pytest.raises(ValueError, match="not a device"):
        runtime.get_device()
    if not torch.cuda.is_available():
        monkeypatch.setenv("SFT_DEVICE", "cuda")
        with pytest.raises(ValueError, match="no CUDA"):
            runtime.get_device()


def test_seed_everything_makes_random_streams_repeatable() -> None:
    runtime.seed_everything(3)
    a = torch.randn(5)
    runtime.seed_everything(3)
    assert torch.equal(a, torch.randn(5))
    with pytest.raises(ValueError):
        runtime.seed_everything(-1)


def test_threads_and_report() -> None:
    before = torch.get_num_threads()
    try:
        assert runtime.set_threads(1) == 1 and torch.get_num_threads() == 1
        with pytest.raises(ValueError):
            runtime.set_threads(0)
    finally:
        torch.set_num_threads(before)
    report = runtime.environment_report()
    assert report["torch"].startswith("2.") and report["device"] in {"cpu", "cuda", "mps"}


def _fake_machine(
    monkeypatch: pytest.MonkeyPatch, cores: int, others_busy: float, own_busy: float = 0.0
) -> None:
    """/proc/stat and os.times as on a machine where other processes keep ``others_busy`` cores busy."""
    import itertools
    import os

    clock = itertools.count()
    total_per_sample = 100.0 * cores  # jiffies of all cores between two reads
    busy = iter([(0.0, 0.0), ((others_busy + own_busy) * 100.0, total_per_sample)])
    monkeypatch.setattr(runtime, "usable_cores", lambda: cores)
    monkeypatch.setattr(runtime, "_cpu_jiffies", lambda: next(busy))
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: cores)
    own = iter([os.times_result((0.0, 0.0, 0.0, 0.0, 0.0)), os.times_result((own_busy, 0.0, 0.0, 0.0, 0.0))])
    monkeypatch.setattr(runtime.os, "times", lambda: next(own))
    import time

    monkeypatch.setattr(time, "perf_counter", lambda: float(next(clock)))  # 1 s between the two reads
    monkeypatch.setattr(time, "sleep", lambda s: None)


@pytest.mark.parametrize(
    ("cores", "others", "own", "expected"),
    [(2, 0.0, 0.0, 2), (2, 1.0, 0.0, 1), (2, 2.0, 0.0, 1), (8, 2.6, 0.0, 5), (2, 0.1, 1.9, 2)],
)
def test_free_cores_counts_only_what_other_processes_use(monkeypatch, cores, others, own, expected) -> None:
    """One core busy elsewhere on 2 cores: 1 thread; never 0 threads; our own work is not 'busy'."""
    _fake_machine(monkeypatch, cores, others, own)
    assert runtime.free_cores() == expected


def test_set_threads_default_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("SFT_THREADS", "1")
        monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
        assert runtime.set_threads() == 1 and torch.get_num_threads() == 1
        import os

        assert os.environ["TOKENIZERS_PARALLELISM"] == "false"  # no second thread pool next to torch's
        monkeypatch.setenv("SFT_THREADS", "two")
        with pytest.raises(ValueError, match="SFT_THREADS='two'"):
            runtime.set_threads()
        monkeypatch.delenv("SFT_THREADS")
        _fake_machine(monkeypatch, 2, 1.0)
        assert runtime.set_threads() == 1  # the other core is busy: one thread
    finally:
        torch.set_num_threads(before)
    assert 1 <= runtime.usable_cores()


def test_cpu_native_bf16_reads_the_cpu_flags(tmp_path) -> None:
    with_bf16 = tmp_path / "with"
    with_bf16.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 avx512_vnni\n")
    without = tmp_path / "without"
    without.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512bw\n")
    amx = tmp_path / "amx"
    amx.write_text("flags\t\t: fpu amx_tile amx_bf16\n")
    assert runtime.cpu_has_native_bf16(str(with_bf16)) is True
    assert runtime.cpu_has_native_bf16(str(without)) is False
    assert runtime.cpu_has_native_bf16(str(amx)) is True
    assert runtime.cpu_has_native_bf16(str(tmp_path / "absent")) is False  # macOS, Windows
    assert isinstance(runtime.cpu_has_native_bf16(), bool)


def test_bf16_default_is_where_the_hardware_computes_it(monkeypatch) -> None:
    import torch

    from sft_helpers import runtime

    cpu = torch.device("cpu")
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    assert runtime.resolve_bf16(cpu) is True and runtime.precision_name(cpu) == "bf16 autocast"
    assert runtime.resolve_bf16(cpu, False) is False  # an explicit choice wins
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: False)
    assert runtime.resolve_bf16(cpu) is False and runtime.precision_name(cpu) == "float32"
    assert runtime.resolve_bf16(cpu, True) is True
    assert runtime.resolve_bf16(torch.device("mps")) is False


def test_chapter_clock_reports_mode_and_precision(monkeypatch) -> None:
    import pytest

    from sft_helpers import runtime

    monkeypatch.setattr(runtime, "_CHAPTER_CLOCK", [])
    with pytest.raises(RuntimeError, match="start_chapter_clock"):
        runtime.chapter_time_report()
    runtime.start_chapter_clock()
    line = runtime.chapter_time_report()
    assert "fast mode" in line and "torch threads" in line and ("float32" in line or "bf16" in line)


def test_progress_bar_prints_one_finished_line_when_headless(monkeypatch, capsys) -> None:
    from sft_helpers import runtime

    monkeypatch.setenv("SFT_PROGRESS", "text")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    for _ in runtime.progress_bar(range(7), desc="training"):
        pass
    with runtime.progress_bar(total=3, desc="quiet", disable=True) as bar:
        bar.update(3)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("training: 100%") and "7/7" in out[0]
