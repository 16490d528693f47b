from pathlib import Path

import pytest

from llm_engineering.infrastructure.llamacpp.cpu import OtherLoad, free_cores, physical_cores


def _topology(root: Path, cpu: int, package: int, core: int) -> None:
    folder = root / f"cpu{cpu}" / "topology"
    folder.mkdir(parents=True)
    (folder / "physical_package_id").write_text(f"{package}\n")
    (folder / "core_id").write_text(f"{core}\n")


def test_smt_siblings_count_as_one_core(tmp_path):
    for cpu, core in [(0, 0), (1, 1), (2, 0), (3, 1)]:  # 2 cores, 2 threads each
        _topology(tmp_path, cpu, 0, core)
    assert physical_cores({0, 1, 2, 3}, tmp_path) == 2
    assert physical_cores({0, 2}, tmp_path) == 1


def test_cores_on_two_packages_are_distinct_and_unreadable_topology_counts_cpus(tmp_path):
    _topology(tmp_path, 0, 0, 0)
    _topology(tmp_path, 1, 1, 0)
    assert physical_cores({0, 1}, tmp_path) == 2
    assert physical_cores({0, 1, 7}, tmp_path) == 3  # cpu7 has no topology: fall back to the CPU count


@pytest.mark.parametrize(("others", "free"), [(0.0, 2), (0.4, 2), (0.5, 2), (0.6, 1), (1.5, 1), (2.0, 1), (5.0, 1)])
def test_a_core_counts_as_free_while_at_most_half_of_it_is_taken(others, free):
    assert free_cores(2, others) == free


class _FakeProc:
    """/proc/stat and /proc/self/stat with ticks the test moves on."""

    def __init__(self, root: Path):
        self.root = root
        (root / "self").mkdir(parents=True)
        self.busy = self.idle = self.own = 0

    def advance(self, busy: int, idle: int, own: int) -> None:
        self.busy, self.idle, self.own = busy, idle, own
        self.write()

    def write(self) -> None:
        user, system = self.busy // 2, self.busy - self.busy // 2
        (self.root / "stat").write_text(
            f"cpu  {user} 0 {system} {self.idle} 0 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\nintr 5\n"
        )
        (self.root / "self" / "stat").write_text(f"42 (python -m x) R 1 1 1 0 -1 4194560 0 0 0 0 {self.own} 0 0 0\n")


def test_other_load_is_the_machine_busy_time_less_our_own(tmp_path, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    proc = _FakeProc(tmp_path)
    proc.write()
    clock = [0.0]
    monkeypatch.setattr("llm_engineering.infrastructure.llamacpp.cpu.time.monotonic", lambda: clock[0])
    monkeypatch.setattr(
        "llm_engineering.infrastructure.llamacpp.cpu.time.sleep",
        lambda seconds: proc.advance(busy=100, idle=100, own=50),
    )
    load = OtherLoad(interval_s=1.0, proc=tmp_path)
    # first reading: 100 of 200 ticks busy, 50 of them ours -> others used a quarter of 2 CPUs
    assert load.busy_cpus() == pytest.approx(0.5)
    assert load.busy_cpus() == pytest.approx(0.5)  # within the interval: no new reading
    proc.advance(busy=300, idle=100, own=50)  # everything since then was another process
    clock[0] = 5.0
    assert load.busy_cpus() == pytest.approx(2.0)


def test_without_proc_nothing_counts_as_busy(tmp_path):
    load = OtherLoad(proc=tmp_path / "missing")
    assert not load.available and load.busy_cpus() == 0.0
