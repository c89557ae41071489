"""The workbook's live formulas: each closed-form cell's Python home beside its Excel text.

The sizing workbook (:mod:`lpuplan.workbook`) writes every closed-form figure
as a live spreadsheet formula over the Inputs sheet, with the value the tool
computed cached in the cell. The formula itself keeps ONE home in Python
(:mod:`dimensioning.service_time`, :mod:`dimensioning.sizing`,
:mod:`dimensioning.pool`, :mod:`facility.thermal`, :mod:`facility.power`,
:mod:`facility.cooling`); this module is the one place where it is translated
to Excel text. Each :class:`CellFormula` pairs

- ``python``: a call of the home (the cached value comes from it), and
- ``excel``: the same arithmetic as Excel text, with ``{arg}`` placeholders
  named like ``python``'s parameters (filled with cell references or defined
  names),

so a test evaluates both on the same numbers (tests/lpuplan/test_workbook_formulas.py)
and LibreOffice recalculates the workbook against the tool
(tests/lpuplan/test_workbook_libreoffice.py). Times are in ms at the edge
(the homes work in seconds): ``1000 * home(...)``.

Only arithmetic, ``CEILING(x, 1)``, ``MAX`` and ``IF`` appear: they mean the
same in Excel, LibreOffice and Google Sheets.
"""

from __future__ import annotations

import functools
import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable

from dimensioning.service_time import mu, service_seconds
from dimensioning.sizing import replicas_for_utilisation
from facility.thermal import BTU_PER_H_PER_KW, BTU_PER_H_PER_TON, airflow_cfm, airflow_m3_per_h, heat_btu_per_h

__all__ = ["CellFormula", "FORMULAS", "live"]

PASS, FAIL = "PASS", "FAIL"
_BUDGET_TOLERANCE = 1e-9  # facility.checks.budget_check: equal to the limit passes despite rounding


@dataclass(frozen=True)
class CellFormula:
    """A closed-form figure: its Python home and its Excel text (``{arg}`` placeholders)."""

    python: Callable[..., float | str]
    excel: str
    home: str  # where the formula lives in Python, for the docs and the Provenance sheet

    @property
    def args(self) -> tuple[str, ...]:
        return _args(self.python)


@functools.lru_cache(maxsize=None)
def _args(function: Callable[..., Any]) -> tuple[str, ...]:
    return tuple(inspect.signature(function).parameters)


def _first_token_s(P: float, r_prefill: float, r_decode: float, l_fixed_ms: float) -> float:  # noqa: N803
    # ServiceTime.first_token_s: fixed + prefill + one token, in that order
    return l_fixed_ms / 1e3 + P / r_prefill + 1.0 / r_decode


def _units_needed(heat_max_kw: float, unit_kw: float) -> int:
    # facility.cooling.zone_cooling: ceil(heat_max / unit_kw) for a zone that holds any heat
    return math.ceil(heat_max_kw / unit_kw - 1e-12) if heat_max_kw > 0 else 0


def _within(value: float, limit: float) -> str:
    # facility.checks.budget_check's rule
    return PASS if value <= limit * (1 + _BUDGET_TOLERANCE) + _BUDGET_TOLERANCE else FAIL


FORMULAS: dict[str, CellFormula] = {
    # dimensioning.service_time: S_bucket = f (P/R_prefill + O/R_decode + L_fixed), the sizing's rates
    # (service_time.sizing_rates: R/f and f L_fixed, f the bucket's service_inflation, 1 when none)
    "service_ms": CellFormula(
        lambda P, O, r_prefill, r_decode, l_fixed_ms, f:
            1e3 * service_seconds(P, O, r_prefill / f, r_decode / f, l_fixed_ms / 1e3 * f),
        "1000*({P}/({r_prefill}/{f})+{O}/({r_decode}/{f})+{l_fixed_ms}/1000*{f})",
        "dimensioning.service_time.service_seconds at sizing_rates"),
    "first_token_ms": CellFormula(
        lambda P, r_prefill, r_decode, l_fixed_ms, f: 1e3 * _first_token_s(P, r_prefill / f, r_decode / f, l_fixed_ms * f),
        "1000*({l_fixed_ms}*{f}/1000+{P}/({r_prefill}/{f})+1/({r_decode}/{f}))",
        "dimensioning.service_time.ServiceTime.first_token_s"),
    "mu": CellFormula(lambda slots, service_ms: mu(slots, service_ms / 1e3), "{slots}/({service_ms}/1000)",
                      "dimensioning.service_time.mu"),
    # dimensioning.traffic.split_traffic: lambda_bucket = lambda_peak * share
    "arrival_rate": CellFormula(lambda lambda_peak, share: lambda_peak * share, "{lambda_peak}*{share}",
                                "dimensioning.traffic.split_traffic"),
    "decode_tokens_per_s": CellFormula(lambda slots, r_decode, f: slots * (r_decode / f), "{slots}*({r_decode}/{f})",
                                       "slots x R_decode / f (output tokens/s of a full replica)"),
    "output_tokens_per_s": CellFormula(lambda arrival_rate, output_mean: arrival_rate * output_mean,
                                       "{arrival_rate}*{output_mean}", "lambda_bucket x E[min(O, cap)]"),
    # dimensioning.pool.evaluate_pool: rho = lambda E[S] / (N slots)
    "utilisation": CellFormula(
        lambda arrival_rate, service_ms, replicas, slots: arrival_rate * (service_ms / 1e3) / (replicas * slots),
        "{arrival_rate}*({service_ms}/1000)/({replicas}*{slots})", "dimensioning.pool.evaluate_pool (utilisation)"),
    # dimensioning.sizing.replicas_for_utilisation, plus the replicas lost in the degraded state
    "replicas_for_utilisation": CellFormula(
        lambda arrival_rate, service_ms, slots, rho_target, lost:
            replicas_for_utilisation(arrival_rate * (service_ms / 1e3), slots, rho_target) + lost,
        "MAX(CEILING({arrival_rate}*({service_ms}/1000)/({slots}*{rho_target})*(1-1E-12),1),1)+{lost}",
        "dimensioning.sizing.replicas_for_utilisation"),
    "replicas_up": CellFormula(lambda replicas, lost: max(replicas - lost, 0), "MAX({replicas}-{lost},0)",
                               "dimensioning.sizing.BucketSizing.replicas_operational_degraded"),
    "product": CellFormula(lambda a, b: a * b, "{a}*{b}", "a x b (chips = replicas x chips per replica)"),
    # facility.power.rack_power: draw = powered nodes x node power
    "rack_kw": CellFormula(lambda nodes, node_kw: nodes * (node_kw * 1e3) / 1e3, "{nodes}*({node_kw}*1000)/1000",
                           "facility.power.rack_power"),
    "margin_kw": CellFormula(lambda budget_kw, max_kw: budget_kw - max_kw, "{budget_kw}-{max_kw}",
                             "facility.power.power_checks"),
    "within": CellFormula(_within, f'IF({{value}}<={{limit}}*(1+{_BUDGET_TOLERANCE!r})+{_BUDGET_TOLERANCE!r},"{PASS}","{FAIL}")',
                          "facility.checks.budget_check"),
    # facility.thermal
    "heat_btu_per_h": CellFormula(lambda kw: heat_btu_per_h(kw), f"{{kw}}*{BTU_PER_H_PER_KW!r}",
                                  "facility.thermal.heat_btu_per_h"),
    "tons": CellFormula(lambda kw: heat_btu_per_h(kw) / BTU_PER_H_PER_TON,
                        f"{{kw}}*{BTU_PER_H_PER_KW!r}/{BTU_PER_H_PER_TON!r}", "facility.cooling.zone_cooling (tons)"),
    "airflow_cfm": CellFormula(lambda kw, delta_t_f: airflow_cfm(kw * 1e3, delta_t_f), "3.16*({kw}*1000)/{delta_t_f}",
                               "facility.thermal.airflow_cfm"),
    "airflow_m3_per_h": CellFormula(lambda kw, delta_t_f: airflow_m3_per_h(kw * 1e3, delta_t_f),
                                    "2.98*({kw}*1000)/({delta_t_f}*5/9)", "facility.thermal.airflow_m3_per_h"),
    "cooling_units_needed": CellFormula(_units_needed, "IF({heat_max_kw}>0,CEILING({heat_max_kw}/{unit_kw}-1E-12,1),0)",
                                        "facility.cooling.zone_cooling"),
}


def live(name: str, refs: dict[str, str], values: dict[str, float]) -> tuple[str, float | str]:
    """(Excel formula text, cached value) of formula ``name``: ``refs`` fill the text, ``values`` the home.

    Both dicts name every argument of the formula, so a cell never mixes up
    what it shows with what it caches.
    """
    formula = FORMULAS[name]
    args = formula.args
    if refs.keys() != values.keys() or len(refs) != len(args) or not all(a in refs for a in args):
        raise KeyError(f"formula {name} takes {formula.args}; got refs {sorted(refs)}, values {sorted(values)}")
    return "=" + formula.excel.format(**refs), formula.python(**values)
