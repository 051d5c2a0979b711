"""How a child ended, and what it used."""

from dataclasses import dataclass

from wit_world.imports import process as wit

NANOS = 1e9
SIGPIPE = 13


@dataclass(frozen=True)
class Usage:
    """What the child used, as the kernel reports it (`wait4`): its own
    figures and those of descendants it waited for."""

    user_cpu: float
    """CPU seconds in user mode."""
    system_cpu: float
    """CPU seconds in the kernel."""
    max_rss: int
    """The largest resident set, in bytes."""


@dataclass(frozen=True)
class TreeUsage:
    """What the child's whole tree used, counted by its cgroup (spawned with
    `measure_tree=True`, where the host can measure)."""

    user_cpu: float
    system_cpu: float
    peak_memory: int
    """The tree's peak memory, in bytes."""


@dataclass(frozen=True)
class ExitStatus:
    """The end of a child's life.

    It *succeeded* if and only if it exited 0, did not time out and its
    output was not cut at the grants' cap: procbox's one success rule.
    """

    code: int | None
    """Its exit code, or None if a signal ended it."""
    signal: int | None
    """The signal that ended it, or None."""
    duration: float
    """Seconds from spawn to exit."""
    timed_out: bool
    output_truncated: bool
    usage: Usage
    tree_usage: TreeUsage | None

    @staticmethod
    def of(status: wit.ExitStatus) -> "ExitStatus":
        code = signal = None
        match status.termination:
            case wit.Termination_Exited(value=value):
                code = value
            case wit.Termination_Signalled(value=value):
                signal = value
        tree = status.tree_usage
        return ExitStatus(
            code=code,
            signal=signal,
            duration=status.duration / NANOS,
            timed_out=status.timed_out,
            output_truncated=status.output_truncated,
            usage=Usage(status.usage.user_cpu / NANOS, status.usage.system_cpu / NANOS, status.usage.max_rss_bytes),
            tree_usage=None
            if tree is None
            else TreeUsage(tree.user_cpu / NANOS, tree.system_cpu / NANOS, tree.peak_memory_bytes),
        )

    @property
    def returncode(self) -> int:
        """The exit code, or minus the signal (as asyncio and subprocess)."""
        return self.code if self.code is not None else -(self.signal or 0)

    @property
    def success(self) -> bool:
        return self.code == 0 and not self.timed_out and not self.output_truncated

    def describe(self) -> str:
        """How it ended, e.g. `exit status 1 after 0.02 s`."""
        how = f"exit status {self.code}" if self.code is not None else f"killed by signal {self.signal}"
        if self.timed_out:
            how += " (timed out)"
        if self.output_truncated:
            how += " (output over the cap)"
        return f"{how} after {self.duration:.2f} s"
