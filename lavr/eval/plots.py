"""The evaluation page's plots, drawn with matplotlib and returned as inline SVG text.

matplotlib's object API (``Figure`` + its SVG canvas) is used, not ``pyplot``: no global figure state, no GUI
backend, and nothing to close. Text stays text in the SVG (``svg.fonttype: none``: smaller, selectable, the
page's font), and each plot gets its own hash salt so the ids matplotlib writes (clip paths) differ between
the plots that share one HTML page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

__all__ = ["accuracy_by_type_svg", "histogram_svg", "side_by_side_svg", "tool_usage_svg"]

RIGHT, CONFIDENT_WRONG, RUN_A, RUN_B, BARS = "#3cb44b", "#e6194b", "#4363d8", "#f58231", "#4363d8"
_XML_HEAD = re.compile(r"^.*?(?=<svg)", re.S)
# matplotlib stamps every SVG with its creation time; the page needs none of it.
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)


def _figure(width: float, height: float, *, left: float = 0.5, bottom: float = 0.45, top: float = 0.3,
            right: float = 0.15):  # -> matplotlib.figure.Figure
    """A figure with fixed margins (inches): a layout engine would draw every plot twice, half the page's time."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=72)
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height)
    return fig


def _label_inches(labels: Sequence[str], font_size: float = 10) -> float:
    """About how wide the longest tick label is (DejaVu Sans averages ~0.6 em a character), plus the ticks."""
    return 0.15 + max((len(s) for s in labels), default=1) * font_size * 0.6 / 72


def _to_svg(fig, salt: str) -> str:
    """The figure as an ``<svg>`` element (no XML prolog, no metadata), scaled by CSS to its container."""
    from matplotlib import rc_context

    buf = io.StringIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": salt, "font.size": 10}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = _METADATA.sub("", _XML_HEAD.sub("", buf.getvalue(), count=1))
    return text.replace("<svg ", f'<svg class="plot" data-plot="{salt}" ', 1)


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def accuracy_by_type_svg(types: Sequence[str], accuracy: Sequence[float], confidently_wrong: Sequence[float],
                         counts: Sequence[int]) -> str:
    """Horizontal bars per question type: accuracy and, beside it, the confidently-wrong share; ``n`` labelled.

    Args:
        types: Question types, drawn top to bottom in this order.
        accuracy: Accuracy of each type in [0, 1].
        confidently_wrong: Share of each type's scored rows answered wrongly without an abstention.
        counts: Scored rows of each type.
    """
    n = len(types)
    fig = _figure(6.2, 0.9 + 0.3 * max(n, 1), left=_label_inches(types), top=0.35)
    ax = fig.add_subplot()
    ys = list(range(n))[::-1]
    height = 0.4
    ax.barh([y + height / 2 for y in ys], accuracy, height, color=RIGHT, label="accuracy")
    ax.barh([y - height / 2 for y in ys], confidently_wrong, height, color=CONFIDENT_WRONG,
            label="confidently wrong")
    for y, acc, wrong, count in zip(ys, accuracy, confidently_wrong, counts):
        ax.text(min(acc, 1.0) + 0.01, y + height / 2, f"{acc:.3f} (n={count})", va="center", fontsize=8)
        ax.text(min(wrong, 1.0) + 0.01, y - height / 2, f"{wrong:.3f}", va="center", fontsize=8,
                color=CONFIDENT_WRONG)
    ax.set_yticks(ys, list(types))
    ax.set_xlim(0, 1.22)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_xlabel("share of the type's scored questions")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncol=2, fontsize=8, frameon=False, borderaxespad=0.2)
    _style(ax)
    return _to_svg(fig, "accuracy-by-type")


def histogram_svg(values: Sequence[float], *, title: str, xlabel: str, salt: str,
                  markers: dict[str, float] | None = None, integer: bool = False) -> str:
    """A histogram of per-question values with vertical lines at ``markers`` (e.g. p50/p90/p99).

    Args:
        values: One value per question.
        title: Shown above the plot.
        xlabel: The x axis' label.
        salt: A name unique on the page (the SVG's ids derive from it).
        markers: Label -> x of the lines drawn over the bars.
        integer: The values are counts: one bin per integer.
    """
    from matplotlib.ticker import MaxNLocator

    fig = _figure(4.2, 2.6, left=0.6)
    ax = fig.add_subplot()
    data = [float(v) for v in values]
    if data:
        if integer:
            low, high = int(min(data)), int(max(data))
            bins: int | list[float] = [b - 0.5 for b in range(low, high + 2)]
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        else:
            bins = min(30, max(5, len(data) // 5))
        ax.hist(data, bins=bins, color=BARS, alpha=0.85)
    for i, (label, x) in enumerate((markers or {}).items()):
        ax.axvline(x, color="#222", linestyle=("--", ":", "-.")[i % 3], linewidth=1.2, label=f"{label} {x:.2f}")
    if markers:
        ax.legend(fontsize=8, frameon=False)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("questions")
    _style(ax)
    return _to_svg(fig, salt)


def tool_usage_svg(usage: dict[str, int]) -> str:
    """Horizontal bars: tool calls by tool name (most used on top)."""
    names = list(usage)
    fig = _figure(4.2, 0.7 + 0.28 * max(len(names), 1), left=_label_inches(names))
    ax = fig.add_subplot()
    ys = list(range(len(names)))[::-1]
    ax.barh(ys, [usage[k] for k in names], color=BARS)
    for y, k in zip(ys, names):
        ax.text(usage[k], y, f" {usage[k]}", va="center", fontsize=8)
    ax.set_yticks(ys, names)
    ax.set_xlabel("calls")
    ax.set_xlim(0, max(usage.values() or [1]) * 1.15)
    _style(ax)
    return _to_svg(fig, "tool-usage")


def side_by_side_svg(types: Sequence[str], a: Sequence[float | None], b: Sequence[float | None], *,
                     label_a: str, label_b: str) -> str:
    """Per question type, the accuracy of run A and run B as paired horizontal bars (a missing side: no bar)."""
    n = len(types)
    fig = _figure(6.2, 0.9 + 0.3 * max(n, 1), left=_label_inches(types), top=0.35)
    ax = fig.add_subplot()
    ys = list(range(n))[::-1]
    height = 0.4
    for offset, values, colour, label in ((height / 2, a, RUN_A, label_a), (-height / 2, b, RUN_B, label_b)):
        ax.barh([y + offset for y in ys], [v or 0.0 for v in values], height, color=colour, label=label)
        for y, v in zip(ys, values):
            ax.text((v or 0.0) + 0.01, y + offset, "n/a" if v is None else f"{v:.3f}", va="center", fontsize=8)
    ax.set_yticks(ys, list(types))
    ax.set_xlim(0, 1.15)
    ax.set_xlabel("accuracy")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncol=2, fontsize=8, frameon=False, borderaxespad=0.2)
    _style(ax)
    return _to_svg(fig, "side-by-side")
