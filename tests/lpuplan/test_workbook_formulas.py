"""The workbook's formula mapping: each Excel text computes what its Python home computes.

The Excel text is evaluated here by a small interpreter of the few functions
the mapping uses (``CEILING(x, 1)``, ``MAX``, ``IF``), on the same numbers as
the Python home, over physical ranges. LibreOffice evaluates the real
workbook in test_workbook_libreoffice.py; this test pins the mapping itself.
"""

from __future__ import annotations

import math
import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dimensioning.sizing import replicas_for_utilisation
from lpuplan.workbook_formulas import FORMULAS, live


def _excel_eval(text: str, values: dict[str, float]) -> float | str:
    """Evaluate the mapping's Excel subset in Python (the placeholders filled with the values)."""
    expr = text.lstrip("=")
    expr = re.sub(r"\bCEILING\(", "_ceiling(", expr)
    expr = re.sub(r"\bMAX\(", "max(", expr)
    expr = re.sub(r"\bIF\(", "_if(", expr)
    expr = expr.replace("<=", " <= ")
    assert not re.search(r"[A-Z]{2,}\(", expr), f"a function the interpreter does not know: {expr}"
    namespace = {"_ceiling": lambda x, step: math.ceil(x / step) * step, "_if": lambda c, a, b: a if c else b,
                 **{f"v_{k}": v for k, v in values.items()}}
    return eval(expr, {"__builtins__": {"max": max}}, namespace)  # noqa: S307 - our own formula text


def _filled(name: str, values: dict[str, float]) -> tuple[float | str, float | str]:
    formula = FORMULAS[name]
    text, cached = live(name, {a: f"v_{a}" for a in formula.args}, values)
    return _excel_eval(text, values), cached


def test_placeholders_are_exactly_the_homes_arguments():
    for name, formula in FORMULAS.items():
        fields = {f for _, f, _, _ in string.Formatter().parse(formula.excel) if f}
        assert fields == set(formula.args), name


def test_live_refuses_a_missing_or_extra_argument():
    with pytest.raises(KeyError):
        live("mu", {"slots": "A1"}, {"slots": 1})
    with pytest.raises(KeyError):
        live("mu", {"slots": "A1", "service_ms": "B1", "x": "C1"}, {"slots": 1, "service_ms": 2.0, "x": 3})


positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
tokens = st.integers(min_value=1, max_value=200_000)
slots = st.integers(min_value=1, max_value=256)


@settings(max_examples=150, deadline=None)
@given(P=tokens, O=tokens, r_prefill=positive, r_decode=positive, l_fixed_ms=st.floats(0, 1e4),
       f=st.one_of(st.just(1.0), st.floats(0.5, 100.0)))
def test_service_time_and_first_token(P, O, r_prefill, r_decode, l_fixed_ms, f):  # noqa: N803
    excel, python = _filled("service_ms", dict(P=P, O=O, r_prefill=r_prefill, r_decode=r_decode, l_fixed_ms=l_fixed_ms, f=f))
    assert excel == pytest.approx(python, rel=1e-12)
    # the home itself, independently: f (L_fixed + P/R_prefill + O/R_decode), in ms
    assert python == pytest.approx(f * (l_fixed_ms + 1e3 * (P / r_prefill + O / r_decode)), rel=1e-12)
    excel, python = _filled("first_token_ms", dict(P=P, r_prefill=r_prefill, r_decode=r_decode, l_fixed_ms=l_fixed_ms, f=f))
    assert excel == pytest.approx(python, rel=1e-12)
    assert python == pytest.approx(f * (l_fixed_ms + 1e3 * (P / r_prefill + 1 / r_decode)), rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(rate=st.floats(1e-3, 1e5), service_ms=st.floats(1.0, 1e6), slots=slots, rho=st.floats(0.05, 0.99),
       lost=st.integers(0, 8), replicas=st.integers(1, 100_000))
def test_queueing_closed_forms(rate, service_ms, slots, rho, lost, replicas):
    excel, python = _filled("replicas_for_utilisation",
                            dict(arrival_rate=rate, service_ms=service_ms, slots=slots, rho_target=rho, lost=lost))
    assert excel == python
    # the least N with lambda S / (N slots) <= rho, found by counting up from the formula's answer
    n = python - lost
    assert rate * service_ms / 1e3 / (n * slots) <= rho * (1 + 1e-9)
    assert n == 1 or rate * service_ms / 1e3 / ((n - 1) * slots) > rho * (1 - 1e-9)
    assert n == replicas_for_utilisation(rate * service_ms / 1e3, slots, rho)
    excel, python = _filled("utilisation", dict(arrival_rate=rate, service_ms=service_ms, replicas=replicas, slots=slots))
    assert excel == pytest.approx(python, rel=1e-12)
    excel, python = _filled("mu", dict(slots=slots, service_ms=service_ms))
    assert excel == pytest.approx(python, rel=1e-12) and python == pytest.approx(slots * 1e3 / service_ms, rel=1e-12)
    excel, python = _filled("replicas_up", dict(replicas=replicas, lost=lost))
    assert excel == python == max(replicas - lost, 0)


@settings(max_examples=150, deadline=None)
@given(nodes=st.integers(0, 64), node_kw=st.floats(0.1, 20.0), budget=st.floats(1.0, 200.0), dt=st.floats(5.0, 40.0),
       unit_kw=st.floats(10.0, 500.0))
def test_facility_arithmetic(nodes, node_kw, budget, dt, unit_kw):
    excel, kw = _filled("rack_kw", dict(nodes=nodes, node_kw=node_kw))
    assert excel == pytest.approx(kw, rel=1e-12, abs=1e-12) and kw == pytest.approx(nodes * node_kw, rel=1e-12, abs=1e-12)
    for name, expected in (("heat_btu_per_h", kw * 3412.14), ("tons", kw * 3412.14 / 12000.0)):
        excel, python = _filled(name, dict(kw=kw))
        assert excel == pytest.approx(python, rel=1e-12, abs=1e-9) and python == pytest.approx(expected, rel=1e-9, abs=1e-9)
    # ASHRAE sensible heat: CFM = BTU/h / (1.08 dT) = 3.16 W / dT to the 3 significant figures the constant has
    excel, cfm = _filled("airflow_cfm", dict(kw=kw, delta_t_f=dt))
    assert excel == pytest.approx(cfm, rel=1e-12, abs=1e-9)
    assert cfm == pytest.approx(kw * 3412.14 / (1.08 * dt), rel=2e-3, abs=1e-9)
    excel, m3h = _filled("airflow_m3_per_h", dict(kw=kw, delta_t_f=dt))
    assert excel == pytest.approx(m3h, rel=1e-12, abs=1e-9)
    assert m3h == pytest.approx(cfm * 1.699011, rel=3e-3, abs=1e-9)  # 1 CFM = 1.699 m3/h
    excel, python = _filled("margin_kw", dict(budget_kw=budget, max_kw=kw))
    assert excel == pytest.approx(python, rel=1e-12, abs=1e-12)
    excel, python = _filled("within", dict(value=kw, limit=budget))
    assert excel == python == ("PASS" if kw <= budget else "FAIL")
    excel, python = _filled("cooling_units_needed", dict(heat_max_kw=kw, unit_kw=unit_kw))
    assert excel == python
    # the fewest units whose capacity covers the heat (none for a zone without heat)
    assert python == 0 if kw == 0 else (python * unit_kw >= kw * (1 - 1e-9) and (python - 1) * unit_kw < kw)


def test_traffic_and_tokens():
    assert _filled("arrival_rate", dict(lambda_peak=40.0, share=0.25)) == (10.0, 10.0)
    assert _filled("decode_tokens_per_s", dict(slots=16, r_decode=280.0, f=1.0)) == (4480.0, 4480.0)
    assert _filled("decode_tokens_per_s", dict(slots=16, r_decode=280.0, f=1.25)) == (3584.0, 3584.0)
    assert _filled("output_tokens_per_s", dict(arrival_rate=2.0, output_mean=350.0)) == (700.0, 700.0)
    assert _filled("product", dict(a=20, b=576)) == (11520, 11520)
