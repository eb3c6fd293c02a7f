"""What the machine offers this process (kept free of heavy imports: data workers use it too)."""

import os


def cpu_count() -> int:
    """Cores this process may run on (its affinity, not the machine's total)."""
    return len(os.sched_getaffinity(0))
