"""Render some facility outputs in a second process while this one does other work.

The rack-plan PNG (matplotlib, 0.85 s CPU on the example) and the workbook
(2.9 s on a 200,000-chip campus) can be drawn on the second core while the
first writes JSON and CSVs, or, in ``lpuplan plan``, while it simulates.
:class:`ForkedRender` renders the named outputs in a forked child
(:class:`dimensioning.forked.ForkedCall`: the same bytes; a child that fails
is rendered again here, so its error surfaces as it would without the child;
Linux only, off with ``LPUPLAN_NO_FORK=1``). Given a
:class:`dimensioning.forked.ForkedWorker` that has loaded the renderers'
libraries while the result was being computed (:data:`RENDER_MODULES`), it
renders there instead: the result travels pickled (about 0.07 s for the
example's 180 racks), the import is already paid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from dimensioning.forked import ForkedCall, ForkedWorker

if TYPE_CHECKING:
    from facility.plan import FacilityResult

__all__ = ["RENDER_MODULES", "ForkedRender", "Rendered"]

RENDER_MODULES = ("facility.exports", "facility.export_png")
"""What a worker loads ahead of the result: the PNG's renderer with matplotlib (0.3 to 0.5 s; ``lpuplan
plan`` draws only the PNG there, the workbooks elsewhere) and the facility model the result unpickles into."""

_PICKLE_RACKS = 1_000
"""Above this many racks the result goes to a freshly forked child instead (inherited, not pickled: a
200,000-chip campus takes seconds to unpickle)."""


def _render(result: FacilityResult, labels: Sequence[str]) -> dict[str, dict[str, bytes]]:
    from facility.exports import output_renderers

    return {label: render(result) for label, render in output_renderers() if label in labels}


class ForkedRender:
    """The outputs ``labels`` (labels of :func:`facility.exports.output_renderers`), rendered in a child."""

    def __init__(self, result: FacilityResult, labels: Sequence[str], worker: ForkedWorker | None = None) -> None:
        self.result = result
        self.labels = tuple(labels)
        self._call: ForkedCall[dict[str, dict[str, bytes]]] | None = None
        if not self.labels:
            return
        if worker is not None and worker.ready and len(result.racks) <= _PICKLE_RACKS:
            self._call = worker.submit(_render, result, self.labels)
        else:
            self._call = ForkedCall(lambda: _render(result, self.labels))

    @property
    def forked(self) -> bool:
        return self._call is not None and self._call.forked

    def collect(self) -> dict[str, dict[str, bytes]]:
        """The rendered files by label (label -> name -> bytes); waits for the child, or renders here."""
        return self._call.result() if self._call is not None else {}

    def close(self) -> None:
        """Abandon the child's work (when the caller fails before collecting)."""
        if self._call is not None:
            self._call.close()


class Rendered:
    """Outputs already at hand (read back from a cache), in :class:`ForkedRender`'s place."""

    forked = False

    def __init__(self, files: dict[str, dict[str, bytes]]) -> None:
        self.labels = tuple(files)
        self._files = files

    def collect(self) -> dict[str, dict[str, bytes]]:
        return self._files

    def close(self) -> None:
        pass
