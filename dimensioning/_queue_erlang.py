"""Erlang B and C: the stable recursions every kernel shares (private kernel)."""

from __future__ import annotations

__all__ = ["erlang_b", "erlang_c"]


def erlang_b(offered: float, servers: int) -> float:
    """Erlang B blocking of M/G/c/c, offered load a = lambda E[S] (insensitive).

    Stable recursion B(0) = 1, B(n) = a B(n-1) / (n + a B(n-1)) (Tijms 2003, 2.7).
    """
    blocking = 1.0
    for n in range(1, servers + 1):
        blocking = offered * blocking / (n + offered * blocking)
    return blocking


def erlang_c(offered: float, servers: int) -> float:
    """Erlang C: P(wait > 0) in M/M/c, C = B / (1 - rho (1 - B)); 1 when rho >= 1."""
    rho = offered / servers
    if rho >= 1.0:
        return 1.0
    blocking = erlang_b(offered, servers)
    return blocking / (1.0 - rho * (1.0 - blocking))
