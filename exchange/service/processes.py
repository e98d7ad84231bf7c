"""Ending this process's child processes (node running circom or snarkjs) at shutdown.

A circuit build or a proof runs node in a subprocess; on SIGTERM or Ctrl-C
the service kills them, so stopping never waits for a build or a proof. The
toolchain writes cache entries to a temporary directory and renames them into
place, so a killed build leaves nothing half written.
"""

import logging
import time

import psutil

log = logging.getLogger("darkpool.service")


def kill_children(timeout: float = 2.0) -> int:
    """SIGKILL every descendant of this process; returns how many were killed."""
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return 0
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            continue
        except psutil.Error as exc:  # pragma: no cover - not ours to kill
            log.warning("could not kill child process %s: %s", child.pid, exc)
    _, alive = psutil.wait_procs(children, timeout=timeout)
    return len(children) - len(alive)


def reap_forever(interval: float = 0.1) -> None:
    """Kill every child as soon as it appears (the process is shutting down)."""
    while True:
        kill_children(timeout=0)
        time.sleep(interval)
