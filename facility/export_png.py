"""PNG of the floor (every rack, coloured by its first replica's bucket, with max kW)
and the rack elevations of the first populated pod (matplotlib, Agg backend).

Large sites are drawn at rack granularity only; elevations are limited to one
pod so the image stays readable.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

from facility.plan import FacilityResult  # noqa: E402

__all__ = ["rack_plan_png"]


def rack_plan_png(result: FacilityResult) -> bytes:
    """The figure as PNG bytes (deterministic: fixed size, dpi and no date metadata)."""
    lay = result.layout
    cmap = plt.get_cmap("tab10")
    colour = {p.name: cmap(i % 10) for i, p in enumerate(result.pools)}
    first_pool: dict[str, str] = {}
    for n in result.nodes:
        if n.pool and n.rack not in first_pool:
            first_pool[n.rack] = n.pool
    power = {r.rack: r.max_kw for r in result.racks}
    fig, (floor, elev) = plt.subplots(
        1, 2, figsize=(14, 6), gridspec_kw={"width_ratios": [2, 1]}, constrained_layout=True
    )
    per_row = lay.racks_per_row
    gap = 0.6
    for g in range(lay.racks):
        row, col = lay.row_of(g), g % per_row
        x = col + (col // lay.racks_per_pod) * gap
        y = -row * 2.0
        name = lay.rack_name(g)
        face = colour.get(first_pool.get(name, ""), (0.93, 0.93, 0.93, 1.0))
        floor.add_patch(Rectangle((x, y), 0.9, 1.2, facecolor=face, edgecolor="black", linewidth=0.3))
        if per_row <= 40 and power.get(name, 0.0) > 0:
            floor.text(x + 0.45, y + 0.6, f"{power[name]:.0f}", ha="center", va="center", fontsize=5, rotation=90)
    width = per_row + (per_row // lay.racks_per_pod) * gap
    floor.set_xlim(-0.5, width + 0.5)
    floor.set_ylim(-lay.rows * 2.0 + 0.5, 1.7)
    floor.set_yticks([-r * 2.0 + 0.6 for r in range(lay.rows)], [lay.row_name(r) for r in range(lay.rows)])
    floor.set_xticks([])
    floor.set_title(f"{lay.site}: floor ({lay.racks} racks; colour = bucket, number = max kW)")
    floor.legend(handles=[Patch(color=c, label=n) for n, c in colour.items()], loc="upper right", fontsize=7)

    pods = [p for p in range(lay.pods) if any(lay.pod_of(r.index) == p and r.powered_nodes for r in result.racks)]
    if pods:
        pod = pods[0]
        racks = [lay.rack_name(pod * lay.racks_per_pod + i) for i in range(lay.racks_per_pod)]
        for c, name in enumerate(racks):
            elev.add_patch(Rectangle((c, 0), 0.9, lay.rack_u_height, fill=False, edgecolor="black", linewidth=0.5))
        index = {name: i for i, name in enumerate(racks)}
        for n in result.nodes:
            if n.rack not in index or n.role == "empty":
                continue
            face = colour.get(n.pool, (0.6, 0.6, 0.6, 1.0))
            elev.add_patch(Rectangle((index[n.rack] + 0.05, n.u_position - 1 + 0.1), 0.8, n.u_height - 0.2,
                                     facecolor=face, edgecolor="black", linewidth=0.3))
            if lay.racks_per_pod <= 12:
                elev.text(index[n.rack] + 0.45, n.u_position - 1 + n.u_height / 2, n.replica or n.role,
                          ha="center", va="center", fontsize=4)
        elev.set_xlim(-0.2, len(racks) + 0.1)
        elev.set_ylim(0, lay.rack_u_height + 1)
        elev.set_xticks([i + 0.45 for i in range(len(racks))], [f"{i + 1}" for i in range(len(racks))], fontsize=6)
        elev.set_ylabel("U")
        elev.set_title(f"{lay.pod_name(pod)}: rack elevations")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()
