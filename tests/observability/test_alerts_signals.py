"""Gathering the signals: cgroup memory limits, process memory, the rate limiter's quotas."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from baton.observability.alerts_rules import AlertThresholds, QuotaUsage
from baton.observability.alerts_signals import (
    EngineSignals,
    cgroup_memory_limit,
    is_dead_here,
    process_memory,
    this_process,
)
from baton.safety.rate_limit import RateLimit, RateLimiter
from baton.store.alerts import StoreActivity
from baton.store.memory import MemoryExecutionStore
from baton.store.rate_limits import MemoryAdmissionStore

pytestmark = pytest.mark.anyio


def cgroups(tmp_path: Path, membership: str, files: dict[str, str]) -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    proc = tmp_path / "proc-cgroup"
    proc.write_text(membership)
    return root, proc


def test_cgroup_v2_takes_the_tightest_limit_up_the_tree(tmp_path: Path) -> None:
    root, proc = cgroups(
        tmp_path,
        "0::/app.slice/baton.service\n",
        {
            "app.slice/baton.service/memory.max": "max",
            "app.slice/memory.max": "2147483648",
            "memory.max": "4294967296",
        },
    )
    assert cgroup_memory_limit(root, proc) == 2**31


def test_cgroup_v2_without_a_limit_is_none(tmp_path: Path) -> None:
    root, proc = cgroups(tmp_path, "0::/\n", {"memory.max": "max"})
    assert cgroup_memory_limit(root, proc) is None


def test_cgroup_v1_reads_the_memory_controller_and_ignores_its_unlimited_value(
    tmp_path: Path,
) -> None:
    membership = "5:cpu,cpuacct:/x\n4:memory:/docker/abc\n0::/\n"
    limited = {"memory/docker/abc/memory.limit_in_bytes": "536870912"}
    root, proc = cgroups(tmp_path, membership, limited)
    assert cgroup_memory_limit(root, proc) == 2**29

    unlimited = {"memory/docker/abc/memory.limit_in_bytes": "9223372036854771712"}
    root, proc = cgroups(tmp_path / "other", membership, unlimited)
    assert cgroup_memory_limit(root, proc) is None


def test_no_cgroup_files_at_all_is_none(tmp_path: Path) -> None:
    assert cgroup_memory_limit(tmp_path / "none", tmp_path / "missing") is None


def test_process_memory_reads_this_process() -> None:
    usage = process_memory()
    assert usage is not None
    assert 0 < usage.rss_bytes < usage.limit_bytes
    assert usage.source in {"cgroup", "ram"}
    assert 0 < usage.fraction < 1


async def test_is_dead_here_knows_live_foreign_and_ended_processes() -> None:
    assert not is_dead_here(this_process())
    assert not is_dead_here("another-host:1")
    assert not is_dead_here("not-a-process")
    ended = await anyio.run_process([sys.executable, "-c", "import os; print(os.getpid())"])
    host = this_process().rpartition(":")[0]
    assert is_dead_here(f"{host}:{int(ended.stdout)}")
    assert this_process().endswith(f":{os.getpid()}")


async def test_the_limiter_reports_the_quotas_it_keeps_in_memory() -> None:
    limiter = RateLimiter({"k": RateLimit(requests=10, window_s=30), "c": RateLimit(concurrent=2)})
    for key in ("k", "k", "k", "c", "unlimited"):
        async with limiter.slot(key):
            pass

    assert await limiter.usage() == {"k": (3, 10)}

    shared = RateLimiter({"k": RateLimit(requests=10)}, admissions=MemoryAdmissionStore())
    async with shared.slot("k"):
        pass
    assert await shared.usage() == {}  # the admission store holds those counts


async def test_engine_signals_gather_every_part() -> None:
    limiter = RateLimiter({"k": RateLimit(requests=4, window_s=30)})
    async with limiter.slot("k"):
        pass
    now = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    source = EngineSignals(
        StoreActivity(MemoryExecutionStore()),
        AlertThresholds(),
        rate_limits=limiter,
        memory=None,
        process="p:1",
    )

    signals = await source.gather(now)

    assert signals.now == now
    assert signals.process == "p:1"
    assert (list(signals.running), dict(signals.outcomes), signals.step_errors) == ([], {}, 0)
    assert signals.memory is None
    assert list(signals.quotas) == [QuotaUsage(key="k", spent=1, size=4, process="p:1")]
    without = await EngineSignals(StoreActivity(MemoryExecutionStore()), AlertThresholds()).gather(
        now
    )
    assert without.quotas == []
    assert without.memory is not None
