"""The heartbeat thread: keeps a study's open trials alive in the storage while they run.

One daemon thread per :class:`~hpopt.Study` with ``heartbeat_interval`` set. Every interval it beats
for each trial the study has asked and not yet told (which also writes their pending
suggestions), so that another worker can tell a dead worker's trial — no beat for longer than the
study's grace period — from a slow one. It stops by itself when no trial is open.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hpopt.study import Study

_log = logging.getLogger("hpopt")


class Beater:
    """Starts (and restarts) the heartbeat thread of one study on demand."""

    def __init__(self, study: Study, interval: float) -> None:
        self._study = study
        self.interval = interval
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def ensure_running(self) -> None:
        """Start the thread if it is not running (called after each ask)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name=f"hpopt-heartbeat-{self._study.study_name}", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            trials = [t for t in list(self._study._live.values()) if not t._finished]
            if not trials:
                with self._lock:
                    if not any(not t._finished for t in list(self._study._live.values())):
                        self._thread = None
                        return
                continue
            try:  # read what other handles and processes wrote: a trial told there is closed here
                self._study._storage.sync()
            except Exception as exc:  # noqa: BLE001  (a beat must never kill the worker)
                _log.warning("heartbeat: reading the storage failed: %s", exc)
            for trial in trials:
                try:
                    trial.beat()
                except Exception as exc:  # noqa: BLE001  (a beat must never kill the worker)
                    _log.warning("heartbeat of trial %s failed: %s", trial.number, exc)
