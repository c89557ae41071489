"""Forced-failure game days: predict what a failure domain's loss does, and when to abort.

- :mod:`.model`: the pools and settings (:class:`GameDayPool`, :class:`GameDaySettings`);
- :mod:`.blast`: what a domain takes down (the one adapter over the facility model);
- :mod:`.steady`: the exact degraded steady state and the hand-checkable transient formulas;
- :mod:`.transient`: one simulated game day of one pool (the unit of work of a sweep);
- :mod:`.bands`: bands from several seeds; :mod:`.predict`: the prediction per domain;
- :mod:`.abort`: abort conditions and preconditions with their margins;
- artifacts: :mod:`.runbook`, :mod:`.plots`, :mod:`.rules` (Prometheus), :mod:`.chaos`
  (Chaos Toolkit), :mod:`.document` (prediction.json), :mod:`.metrics` (PromQL mapping);
- :mod:`.verify`: observations against the prediction.

Modules load on import of their own name; this package imports nothing heavy.
"""

__all__ = ["model", "blast", "steady", "transient", "bands", "predict", "abort", "runbook", "plots", "rules",
           "chaos", "document", "metrics"]
