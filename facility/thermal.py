"""Heat and airflow of an electrical load.

- heat: every watt drawn is a watt of heat; 1 kW = 3,412.14 BTU/h and
  1 ton of refrigeration = 12,000 BTU/h (NIST SP 811, Appendix B conversion
  factors: 1 BTU_IT/h = 0.293071 W);
- airflow: the sensible-heat equation for standard sea-level air,
  ``Q[BTU/h] = 1.08 x CFM x dT[F]`` (ASHRAE Handbook, Fundamentals), gives
  ``CFM = 3.412 W / (1.08 dT) = 3.16 * W / dT(F)``; metric, with
  ``rho c_p = 1.2 kg/m3 x 1.005 kJ/(kg K)``, ``m3/h = 3600 W / (1206 dT) =
  2.98 * W / dT(K)``, ``dT(K) = dT(F) * 5/9``. Inlet conditions: ASHRAE TC 9.9,
  "Thermal Guidelines for Data Processing Environments" (recommended 18-27 C).
"""

from __future__ import annotations

__all__ = ["BTU_PER_H_PER_KW", "BTU_PER_H_PER_TON", "heat_btu_per_h", "airflow_cfm", "airflow_m3_per_h"]

BTU_PER_H_PER_KW = 3412.14
BTU_PER_H_PER_TON = 12000.0


def heat_btu_per_h(kw: float) -> float:
    """Heat load in BTU/h of ``kw`` kilowatts (1 kW = 3,412.14 BTU/h)."""
    return kw * BTU_PER_H_PER_KW


def airflow_cfm(watts: float, delta_t_f: float) -> float:
    """Air needed to carry ``watts`` away with a rise of ``delta_t_f`` degrees F: 3.16 W / dT."""
    return 3.16 * watts / delta_t_f


def airflow_m3_per_h(watts: float, delta_t_f: float) -> float:
    """The same in m3/h: 2.98 W / dT(K), dT(K) = dT(F) * 5/9."""
    return 2.98 * watts / (delta_t_f * 5.0 / 9.0)
