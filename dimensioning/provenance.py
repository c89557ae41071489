"""Where every number in a result came from (DESIGN.md, "Data flow").

``source`` says who vouches for the value; ``method`` says how exact it is.
Reports print both, so an assumption is never mistaken for a fact and an
approximation is never mistaken for an exact figure.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["Source", "Method", "Figure"]

Source = Literal["measured", "sourced", "given", "derived", "assumed", "simulated"]
"""measured: a benchmark profile; sourced: a catalogue entry with a reference;
given: the project file; derived: computed from other figures; assumed: a
default nobody confirmed; simulated: the discrete-event simulator."""

Method = Literal["exact", "bound", "approximation", "simulated", "input"]
"""exact: a closed form or a numerically exact method; bound: an exact
upper bound (e.g. output at its cap); approximation: a documented
approximation; simulated: a simulator estimate with an interval; input: not
computed here."""


class Figure(BaseModel):
    """A number with its unit, its provenance and how it was obtained."""

    model_config = ConfigDict(frozen=True)

    value: float
    unit: str
    source: Source
    method: Method = "input"
    note: str = ""
    ci95: tuple[float, float] | None = None

    def __float__(self) -> float:
        return float(self.value)
