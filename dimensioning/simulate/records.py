"""Per-request records of a simulation run (numpy arrays, one entry per request)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dimensioning.simulate.scenario import COMPLETED, LOST, OUTCOMES, REJECTED, SHED

__all__ = ["Records"]


@dataclass(frozen=True)
class Records:
    """What happened to each request, in arrival order. Times in seconds.

    - ``arrival``: first arrival at the router.
    - ``start``: service start of its last attempt (NaN if never served).
    - ``end``: completion, or when it was shed, lost or rejected.
    - ``left_queue``: when it last left a queue (started, shed, lost, sent
      to a failed replica); queue depth over time counts ``[entered, left_queue)``.
    - ``entered``: when its last attempt reached the router (``arrival`` unless retried).
    - ``bucket``: bucket index (-1 rejected); ``replica``: replica that served
      or lost it (-1 none); ``outcome``: code in ``OUTCOMES``; ``attempts``: 1 + retries;
      ``service``: service time it needed (s).
    """

    arrival: np.ndarray
    start: np.ndarray
    end: np.ndarray
    left_queue: np.ndarray
    entered: np.ndarray
    bucket: np.ndarray
    replica: np.ndarray
    outcome: np.ndarray
    attempts: np.ndarray
    service: np.ndarray

    def __len__(self) -> int:
        return int(self.arrival.shape[0])

    @property
    def completed(self) -> np.ndarray:
        return self.outcome == COMPLETED

    @property
    def shed(self) -> np.ndarray:
        return self.outcome == SHED

    @property
    def lost(self) -> np.ndarray:
        return self.outcome == LOST

    @property
    def rejected(self) -> np.ndarray:
        return self.outcome == REJECTED

    @property
    def wait(self) -> np.ndarray:
        """Queueing delay ``start - arrival`` (s; NaN if not served); includes time lost to retries."""
        return self.start - self.arrival

    @property
    def latency(self) -> np.ndarray:
        """End-to-end latency ``end - arrival`` of completed requests (s; NaN otherwise)."""
        return np.where(self.completed, self.end - self.arrival, np.nan)

    def outcome_names(self) -> np.ndarray:
        return np.asarray(OUTCOMES, dtype=object)[self.outcome]
