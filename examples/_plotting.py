"""The one piece of plotting set-up the examples share: a matplotlib figure on the Agg canvas.

Figures are drawn without pyplot, so running an example never switches the user's global
matplotlib backend; matplotlib is an optional extra, imported only when a figure is asked for.
"""

from __future__ import annotations

from typing import Any


def require_matplotlib(what: str) -> tuple[type, type]:
    """``(Figure, FigureCanvasAgg)``, or an ImportError saying ``what`` needs the extra."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError(f"{what} needs matplotlib: pip install 'jaxdl[bench]' "
                          "(or leave out --out)") from e
    return Figure, FigureCanvasAgg


def agg_figure(what: str, figsize: tuple[float, float]) -> Any:
    """A constrained-layout ``Figure`` of ``figsize`` inches attached to an Agg canvas."""
    figure_type, canvas_type = require_matplotlib(what)
    fig = figure_type(figsize=figsize, layout="constrained")
    canvas_type(fig)
    return fig
