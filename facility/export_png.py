"""PNG of the floor and of one pod's rack elevations, legible when printed on a landscape page.

Top: the floor, every rack coloured by its first replica's bucket (grey: no
replica) and labelled with its maximum draw in kW; where a site has too many
racks per row for a number per rack at a legible size, each pod is labelled
with its pod's maximum draw instead, and the title says which. Bottom: the
rack elevations of the first populated pod, each node labelled with its
replica (or its role) and maximum kW, and each rack with its total. The legend
sits outside the drawing.

The figure is drawn for a 10 in wide print (:data:`PRINT_WIDTH_IN`, inside an
A4 or Letter landscape page) and no text is smaller than :data:`MIN_FONT_PT`.
Drawn with matplotlib's object API (``Figure`` and the Agg canvas) without
``pyplot``, which costs about a second to import and keeps global state.
Deterministic: fixed size and dpi, no date or software metadata.
"""

from __future__ import annotations

import io
from typing import Any

from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from facility.plan import FacilityResult

__all__ = ["rack_plan_png", "rack_plan_figure", "PRINT_WIDTH_IN", "MIN_FONT_PT", "DPI"]

PRINT_WIDTH_IN = 10.0  # printable width of a landscape A4 or Letter page
DPI = 150
MIN_FONT_PT = 8.0
_LABEL_PT = 8.0
_EMPTY = (0.93, 0.93, 0.93, 1.0)
_SPARE = (0.70, 0.70, 0.70, 1.0)
_GAP = 0.6  # space between pods on the floor, in rack widths
_ROW_PITCH = 2.0  # rows on the floor, in rack depths


class _Boxes:
    """Rectangles gathered into one PolyCollection: one artist instead of one patch each (10x faster)."""

    def __init__(self) -> None:
        self.verts: list[list[tuple[float, float]]] = []
        self.faces: list[Any] = []
        self.edges: list[Any] = []
        self.widths: list[float] = []

    def add(self, x: float, y: float, w: float, h: float, face: Any, width: float, edge: Any = "black") -> None:
        self.verts.append([(x, y), (x + w, y), (x + w, y + h), (x, y + h)])
        self.faces.append(face)
        self.edges.append(edge)
        self.widths.append(width)

    def draw(self, ax: Any) -> None:
        if self.verts:
            ax.add_collection(PolyCollection(self.verts, facecolors=self.faces, edgecolors=self.edges,
                                             linewidths=self.widths), autolim=False)


def _kw(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def _floor(ax: Any, result: FacilityResult, colour: dict[str, Any]) -> str:
    """Draw the floor; returns what the numbers on it are."""
    lay = result.layout
    first_pool: dict[str, str] = {}
    for n in result.nodes:
        if n.pool and n.rack not in first_pool:
            first_pool[n.rack] = n.pool
    power = {r.rack: r.max_kw for r in result.racks}
    per_row = lay.racks_per_row
    width = per_row + (per_row // lay.racks_per_pod) * _GAP
    # points per rack at print size: decides whether a rotated number fits in each rack
    rack_pt = 0.9 * PRINT_WIDTH_IN * 72 * 0.92 / (width + 1.0)
    per_rack_numbers = rack_pt >= _LABEL_PT * 1.25
    pod_kw: dict[int, float] = {}
    boxes = _Boxes()
    for g in range(lay.racks):
        row, col = lay.row_of(g), g % per_row
        x = col + (col // lay.racks_per_pod) * _GAP
        y = -row * _ROW_PITCH
        name = lay.rack_name(g)
        face = colour.get(first_pool.get(name, ""), _EMPTY)
        boxes.add(x, y, 0.9, 1.2, face, 0.3)
        kw = power.get(name, 0.0)
        pod_kw[lay.pod_of(g)] = pod_kw.get(lay.pod_of(g), 0.0) + kw
        if per_rack_numbers and kw > 0:
            ax.text(x + 0.45, y + 0.6, _kw(kw), ha="center", va="center", fontsize=_LABEL_PT, rotation=90)
    boxes.draw(ax)
    if not per_rack_numbers:
        for pod, kw in pod_kw.items():
            if kw <= 0:
                continue
            first = pod * lay.racks_per_pod
            row, col = lay.row_of(first), first % per_row
            x = col + (col // lay.racks_per_pod) * _GAP + lay.racks_per_pod * 0.45
            ax.text(x, -row * _ROW_PITCH + 1.25, _kw(kw), ha="center", va="bottom", fontsize=_LABEL_PT)
    ax.set_xlim(-0.5, width + 0.5)
    ax.set_ylim(-(lay.rows - 1) * _ROW_PITCH - 0.3, 1.2 + (0.3 if per_rack_numbers else 1.0))
    ax.set_yticks([-r * _ROW_PITCH + 0.6 for r in range(lay.rows)], [lay.row_name(r) for r in range(lay.rows)],
                  fontsize=_LABEL_PT)
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    return "number = rack max kW" if per_rack_numbers else "number = pod max kW (too many racks per row for one per rack)"


def _elevations(ax: Any, result: FacilityResult, colour: dict[str, Any]) -> str | None:
    """Draw the first populated pod's elevations; returns its name (None when no pod is populated)."""
    lay = result.layout
    pods = sorted({lay.pod_of(r.index) for r in result.racks if r.powered_nodes})
    if not pods:
        ax.set_axis_off()
        return None
    pod = pods[0]
    racks = [lay.rack_name(pod * lay.racks_per_pod + i) for i in range(lay.racks_per_pod)]
    index = {name: i for i, name in enumerate(racks)}
    power = {r.rack: r.max_kw for r in result.racks}
    boxes = _Boxes()
    for c, name in enumerate(racks):
        boxes.add(c, 0, 0.92, lay.rack_u_height, "none", 0.6)
        if power.get(name):
            ax.text(c + 0.46, lay.rack_u_height + 0.6, f"{_kw(power[name])} kW", ha="center", va="bottom",
                    fontsize=_LABEL_PT, fontweight="bold")
    # a node label needs about 2 lines of text; below that height only the replica is written
    column_pt = PRINT_WIDTH_IN * 72 * 0.9 / (len(racks) + 0.5)
    for n in result.nodes:
        if n.rack not in index or n.role == "empty":
            continue
        face = colour.get(n.pool, _SPARE)
        x = index[n.rack]
        boxes.add(x + 0.04, n.u_position - 1 + 0.1, 0.84, n.u_height - 0.2, face, 0.3)
        label = n.replica or n.role
        text = f"{label}\n{n.max_kw:g} kW" if n.u_height >= 3 else label
        if len(max(text.split("\n"), key=len)) * _LABEL_PT * 0.55 <= column_pt * 0.85:
            ax.text(x + 0.46, n.u_position - 1 + n.u_height / 2, text, ha="center", va="center",
                    fontsize=_LABEL_PT, linespacing=1.0)
    boxes.draw(ax)
    ax.set_xlim(-0.1, len(racks))
    ax.set_ylim(0, lay.rack_u_height + 3)
    ax.set_xticks([i + 0.46 for i in range(len(racks))], [name.rsplit("-", 1)[-1] for name in racks],
                  fontsize=_LABEL_PT)
    ticks = list(range(1, lay.rack_u_height + 1, max(1, lay.node_u_height)))
    ax.set_yticks([u - 0.5 for u in ticks], [str(u) for u in ticks], fontsize=_LABEL_PT)
    ax.set_ylabel("U (bottom of node)", fontsize=_LABEL_PT)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return lay.pod_name(pod)


def rack_plan_figure(result: FacilityResult) -> Figure:
    """The figure (module docstring), on an Agg canvas."""
    lay = result.layout
    palette = colormaps["tab10"]
    colour = {p.name: palette(i % 10) for i, p in enumerate(result.pools)}
    # fixed layout in inches (no layout engine: it would measure every text once more)
    floor_in, elev_in, legend_in, left_in, right_in, title_in = max(1.2, 0.5 * lay.rows), 5.6, 0.55, 0.75, 0.15, 0.35
    height = title_in + floor_in + title_in + 0.35 + elev_in + 0.35 + legend_in
    fig = Figure(figsize=(PRINT_WIDTH_IN, height), dpi=DPI)
    FigureCanvasAgg(fig)
    width = (PRINT_WIDTH_IN - left_in - right_in) / PRINT_WIDTH_IN
    floor = fig.add_axes((left_in / PRINT_WIDTH_IN, (height - title_in - floor_in) / height, width, floor_in / height))
    elev = fig.add_axes((left_in / PRINT_WIDTH_IN, (legend_in + 0.35) / height, width, elev_in / height))
    what = _floor(floor, result, colour)
    floor.set_title(f"{lay.site}: floor, {lay.racks} racks in {lay.rows} rows; colour = bucket of the first "
                    f"replica, {what}", fontsize=9, loc="left")
    pod = _elevations(elev, result, colour)
    if pod is not None:
        elev.set_title(f"{pod}: rack elevations (front); node label = replica, max kW; above each rack its max kW",
                       fontsize=9, loc="left")
    handles = [Patch(facecolor=c, edgecolor="black", linewidth=0.3, label=n) for n, c in colour.items()]
    handles += [Patch(facecolor=_SPARE, edgecolor="black", linewidth=0.3, label="spare node"),
                Patch(facecolor=_EMPTY, edgecolor="black", linewidth=0.3, label="no replica")]
    fig.legend(handles=handles, loc="lower center", ncols=min(len(handles), 6), fontsize=_LABEL_PT,
               title="bucket", title_fontsize=_LABEL_PT, frameon=False, bbox_to_anchor=(0.5, 0.0))
    return fig


def rack_plan_png(result: FacilityResult) -> bytes:
    """The figure as PNG bytes (deterministic: fixed size and dpi, no software or date metadata)."""
    buffer = io.BytesIO()
    rack_plan_figure(result).savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
