"""How many CPU threads llama.cpp should use: the physical cores this process may run on, less the cores other
processes keep busy right now.

llama.cpp's workers spin on a barrier after each matrix product, so one thread more than the free cores makes
every token wait for a descheduled worker: on a 2-core machine with other work running, 2 threads generated
1.2 tokens/s where 1 thread generated 24; on the same machine idle, 2 threads answered `/rag` in 7.7 s where
1 thread took 12.3 s. Reading the machine's load before each request (and again while it generates) takes
the fast setting in both cases. Linux only; elsewhere every core counts as free.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


def physical_cores(cpus: set[int] | None = None, sys_root: Path = Path("/sys/devices/system/cpu")) -> int:
    """Distinct physical cores among `cpus` (default: the CPUs this process may use); SMT siblings count once.
    Falls back to the number of CPUs where the topology cannot be read."""
    cpus = set(os.sched_getaffinity(0)) if cpus is None else cpus
    cores: set[tuple[str, str]] = set()
    for cpu in cpus:
        topology = sys_root / f"cpu{cpu}" / "topology"
        try:
            package = (topology / "physical_package_id").read_text().strip()
            core = (topology / "core_id").read_text().strip()
        except OSError:
            return max(1, len(cpus))
        cores.add((package, core))
    return max(1, len(cores))


def _busy_ticks(proc_stat: str) -> tuple[int, int]:
    """(busy, all) clock ticks of every CPU from the text of /proc/stat; stolen time counts as busy, since
    another tenant had the core."""
    for line in proc_stat.splitlines():
        if line.startswith("cpu "):
            values = [int(v) for v in line.split()[1:]]
            idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
            total = sum(values[:8])  # guest time is already inside user/nice
            return total - idle, total
    raise ValueError("/proc/stat has no 'cpu' line")


def _own_ticks(self_stat: str) -> int:
    """User + system clock ticks of this process from the text of /proc/self/stat."""
    fields = self_stat.rsplit(")", 1)[1].split()  # the command name may hold spaces
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the whole line)


class OtherLoad:
    """The CPUs other processes kept busy over the last `interval_s` or so, from /proc/stat less this
    process's own ticks. Cheap to call on every token: it reads /proc at most once per interval."""

    def __init__(self, interval_s: float = 1.0, proc: Path = Path("/proc")):
        self.interval_s = interval_s
        self.proc = proc
        self._lock = threading.Lock()
        self._last: tuple[float, int, int, int] | None = None
        self._busy_cpus = 0.0
        self.available = (proc / "stat").exists()

    def _sample(self) -> tuple[float, int, int, int]:
        busy, total = _busy_ticks((self.proc / "stat").read_text())
        own = _own_ticks((self.proc / "self" / "stat").read_text())
        return time.monotonic(), busy, total, own

    def busy_cpus(self) -> float:
        """CPUs (0.0 .. all of them) other processes used since the previous reading."""
        if not self.available:
            return 0.0
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last[0] < self.interval_s:
                return self._busy_cpus
            try:
                sample = self._sample()
            except (OSError, ValueError, IndexError):
                self.available = False
                return 0.0
            if self._last is None:
                time.sleep(0.1)  # a first reading needs a short window
                self._last, sample = sample, self._sample()
            _, busy0, total0, own0 = self._last
            _, busy1, total1, own1 = sample
            cpus = os.cpu_count() or 1
            if total1 > total0:
                share = max(0, (busy1 - busy0) - (own1 - own0)) / (total1 - total0)
                self._busy_cpus = min(float(cpus), share * cpus)
            self._last = sample
            return self._busy_cpus


def free_cores(cores: int, others_busy: float) -> int:
    """Cores left for us when others keep `others_busy` CPUs busy: a core counts when at most half of it is
    taken; at least one."""
    return max(1, min(cores, int(cores - others_busy + 0.5)))
