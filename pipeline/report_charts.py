"""The run report's charts: matplotlib figures rendered to inline SVG (no script, no network, text kept as text)."""

from __future__ import annotations

import io
import itertools
import re

import matplotlib

matplotlib.use("svg")  # no display, no GUI toolkit: the figures are only ever written as SVG

import matplotlib.pyplot as plt  # after the backend is chosen
from matplotlib.ticker import MaxNLocator

matplotlib.rcParams.update({
    "svg.fonttype": "none",  # text stays text: searchable, small, scaled by the browser
    "svg.hashsalt": "newsbeam",  # element ids do not change from run to run
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
})

COLOURS = {"records": "#2b6cb0", "duplicates": "#805ad5", "seen before": "#a0aec0", "dead letters": "#c53030",
           "from page": "#2b6cb0", "from feed": "#d69e2e", "same URL/GUID, not fetched": "#a0aec0",
           "dead letter": "#c53030"}


_charts = itertools.count(1)


def to_svg(figure: plt.Figure) -> str:
    """The figure as an inline ``<svg>``; its element ids get a prefix of their own, since several charts share
    one page and matplotlib names ids the same way in each (``patch_2``, clip paths)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    svg = re.sub(r"^<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>\s*)?", "", buffer.getvalue())  # inline: no XML prologue
    prefix = f"c{next(_charts)}-"
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    return re.sub(r'(url\(#|href="#)([^)"]+)', lambda m: f"{m.group(1)}{prefix}{m.group(2)}", svg)


def stacked_bars(labels: list[str], series: dict[str, list[float]], title: str, unit: str = "") -> str:
    """Horizontal bars, one per label, each split into ``series`` (drawn in order, left to right)."""
    height = max(1.2, 0.28 * len(labels) + 0.8)
    figure, axes = plt.subplots(figsize=(7.5, height))
    left = [0.0] * len(labels)
    positions = range(len(labels))
    for name, values in series.items():
        axes.barh(positions, values, left=left, label=name, color=COLOURS.get(name))
        left = [a + b for a, b in zip(left, values)]
    axes.set_yticks(list(positions), labels)
    axes.invert_yaxis()  # the first label on top
    axes.set_title(title, loc="left", fontsize=10)
    if unit:
        axes.set_xlabel(unit)
    axes.xaxis.set_major_locator(MaxNLocator(integer=unit != "seconds"))
    if len(series) > 1:  # beside the bars, never over them
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    return to_svg(figure)
