"""The report's charts as inline SVG, drawn from numbers only (nothing of the data's text):
the labels' precision and recall, the match-weight waterfalls and histogram."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def label_chart(points: Sequence[dict[str, Any]], width: int = 520, height: int = 220) -> str:
    """Precision and recall against the reviewers' labels, by confidence threshold: an inline SVG
    (two polylines over thresholds 50-100) to choose thresholds by."""
    if not points:
        return ""
    left, bottom, top, right = 40, height - 30, 10, width - 10

    def x(threshold: float) -> float:
        return left + (threshold - 50) / 50 * (right - left)

    def y(value: float) -> float:
        return bottom - value * (bottom - top)

    lines = []
    for name, colour in (("precision", "#2e8b57"), ("recall", "#4a90d9")):
        path = " ".join(f"{x(p['threshold']):.1f},{y(p[name]):.1f}" for p in points if p.get(name) is not None)
        lines.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"><title>{name}</title></polyline>'
        )
    ticks = "".join(
        f'<text x="{x(t):.0f}" y="{height - 12}" font-size="10" text-anchor="middle">{t}</text>'
        for t in range(50, 101, 10)
    )
    axis = (
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#999"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#999"/>'
        f'<text x="4" y="{top + 8}" font-size="10">1.0</text><text x="4" y="{bottom}" font-size="10">0</text>'
    )
    legend = (
        f'<text x="{right - 150}" y="{top + 12}" font-size="11" fill="#2e8b57">precision</text>'
        f'<text x="{right - 80}" y="{top + 12}" font-size="11" fill="#4a90d9">recall</text>'
    )
    return (
        f'<svg class="labels" role="img" aria-label="precision and recall by threshold" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">{axis}{ticks}{"".join(lines)}{legend}</svg>'
    )


def weight_threshold(confidence: float | None) -> float | None:
    """The match weight (bits) at which the confidence (0-100) is reached: log2(c / (100 - c))."""
    if confidence is None or not 0 < confidence < 100:
        return None  # 0 and 100 are reached at minus/plus infinity: nothing to draw
    return math.log2(confidence / (100 - confidence))


def _signed(value: float) -> str:
    return f"{value:+.1f}".replace("-", "\u2212")


def _axis(low: float, high: float) -> tuple[float, float, list[float]]:
    """An axis from low to high (and zero), padded a little, and its round ticks."""
    low, high = min(low, 0.0), max(high, 0.0)
    pad = max((high - low) * 0.08, 1.0)
    low, high = low - pad, high + pad
    step = 5.0 if high - low <= 40 else 10.0 if high - low <= 100 else 20.0
    first = math.ceil(low / step)
    return low, high, [step * index for index in range(first, math.floor(high / step) + 1)]


WATERFALL = {"slot": 96, "bar": 60, "left": 52, "top": 20, "plot": 200, "labels": 44}


def waterfall(
    components: Any, order: Sequence[str] = (), thresholds: Sequence[tuple[str, float]] = ()
) -> dict[str, Any] | None:
    """The bars of a scored row's match weight: the prior, each comparison (in registry order,
    then any the registry does not name), the total; None for a row never scored."""
    if not isinstance(components, dict) or not isinstance(components.get("match_weight"), int | float):
        return None
    compared = components.get("comparisons") or {}
    names = [name for name in order if name in compared]
    names += sorted(name for name in compared if name not in names)
    prior = float(components.get("prior") or 0)
    total = float(components["match_weight"])
    steps = [{"kind": "prior", "name": "prior", "level": "log2-odds", "start": 0.0, "end": prior, "weight": prior}]
    running = prior
    for name in names:
        comparison = compared[name] if isinstance(compared[name], dict) else {}
        weight = float(comparison.get("weight") or 0)
        level = str(comparison.get("level") or "null")
        kind = "up" if weight > 0 else "down" if weight < 0 else "none"
        steps.append(
            {
                "kind": kind,
                "name": name,
                "level": level + (" (tf)" if comparison.get("term_frequency") else ""),
                "start": running,
                "end": running + weight,
                "weight": weight,
                "legacy": comparison.get("legacy"),
                "hubspot": comparison.get("hubspot"),
            }
        )
        running += weight
    steps.append(
        {"kind": "total", "name": "match weight", "level": "total", "start": 0.0, "end": total, "weight": total}
    )
    shown = [(label, value) for label, value in thresholds if value is not None]
    values = [value for step in steps for value in (step["start"], step["end"])] + [value for _, value in shown]
    low, high, ticks = _axis(min(values), max(values))  # padded: room for the weights written on the bars
    geometry = WATERFALL
    scale = geometry["plot"] / (high - low)

    def y(value: float) -> float:
        return round(geometry["top"] + (high - value) * scale, 1)

    bars = []
    for index, step in enumerate(steps):
        x = geometry["left"] + index * geometry["slot"] + (geometry["slot"] - geometry["bar"]) / 2
        top, bottom = y(max(step["start"], step["end"])), y(min(step["start"], step["end"]))
        title = f"{step['name']}: {step['level']}, weight {step['weight']:+.2f} bits"
        if step["kind"] not in ("prior", "total"):
            title += f"; legacy {step['legacy']!r}, HubSpot {step['hubspot']!r}".replace("None", "empty")
        bars.append(
            {
                **step,
                "x": x,
                "width": geometry["bar"],
                "center": x + geometry["bar"] / 2,
                "y": top,
                "height": max(round(bottom - top, 1), 1.5),
                "end_y": y(step["end"]),
                "text": _signed(step["weight"]),
                "title": title,
            }
        )
    width = geometry["left"] + len(steps) * geometry["slot"] + 8
    return {
        "bars": bars,
        "width": width,
        "height": geometry["top"] + geometry["plot"] + geometry["labels"],
        "plot_bottom": geometry["top"] + geometry["plot"],
        "left": geometry["left"],
        "right": width - 8,
        "zero": y(0),
        "ticks": [{"y": y(value), "label": f"{value:g}".replace("-", "\u2212")} for value in ticks],
        "thresholds": [{"y": y(value), "label": f"{label} {_signed(value)}"} for label, value in shown],
    }


HISTOGRAM_STATUSES = ("matched", "conflict", "probable", "new")
HISTOGRAM = {"left": 44, "top": 34, "plot": 170, "width": 1000}


def weight_histogram(rows: Sequence[dict[str, Any]], thresholds: Sequence[tuple[str, float]] = ()) -> dict[str, Any]:
    """Stacked bars of the match weights in 5-bit bins, from the lowest bin to the highest."""
    counts: dict[int, dict[str, int]] = {}
    for row in rows:
        by_status = counts.setdefault(int(row["bin"]), {})
        by_status[row["status"]] = by_status.get(row["status"], 0) + int(row["rows"])
    shown = [(label, value) for label, value in thresholds if value is not None]
    if not counts:
        return {"bars": [], "total": 0}
    edges = list(counts) + [math.floor(value / 5) * 5 for _, value in shown]
    first, last = min(edges), max(edges)
    bins = list(range(first, last + 5, 5))
    geometry = HISTOGRAM
    slot = min(60.0, (geometry["width"] - geometry["left"] - 10) / len(bins))
    tallest = max(sum(by_status.values()) for by_status in counts.values())
    bottom = geometry["top"] + geometry["plot"]
    bars = []
    for index, start in enumerate(bins):
        x = round(geometry["left"] + index * slot, 1)
        level = bottom
        segments = []
        for status in HISTOGRAM_STATUSES:
            rows_here = counts.get(start, {}).get(status, 0)
            if rows_here:
                height = round(geometry["plot"] * rows_here / tallest, 1)
                level -= height
                segments.append({"status": status, "rows": rows_here, "y": round(level, 1), "height": height})
        bars.append(
            {
                "x": x,
                "width": round(slot * 0.86, 1),
                "bin": start,
                "label": f"{start}".replace("-", "\u2212"),
                "rows": sum(counts.get(start, {}).values()),
                "top": round(level, 1),
                "segments": segments,
                "title": f"{start} to {start + 5} bits: "
                + ", ".join(f"{status} {counts.get(start, {}).get(status, 0)}" for status in HISTOGRAM_STATUSES),
            }
        )
    # Labelled beside their line: the lowest threshold's to its left, the others' to their right.
    shown.sort(key=lambda threshold: threshold[1])
    lines = [
        {
            "x": round(geometry["left"] + (value - first) / 5 * slot, 1),
            "label": f"{label} {_signed(value)}",
            "anchor": "end" if index == 0 and len(shown) > 1 else "start",
            "row": max(index - 1, 0),
        }
        for index, (label, value) in enumerate(shown)
    ]
    return {
        "bars": bars,
        "lines": lines,
        "width": round(geometry["left"] + len(bins) * slot + 10),
        "height": bottom + 40,
        "bottom": bottom,
        "top": geometry["top"],
        "left": geometry["left"],
        "total": sum(sum(by_status.values()) for by_status in counts.values()),
        "statuses": HISTOGRAM_STATUSES,
    }
