"""A sweep's results: curves and final metrics as arrays with named axes, and tables.

Every array in a ``SweepResult`` has the sweep's axes first (``result.shape``, named by
``result.axes``), so ``result.final["val_accuracy"][i, j]`` is the run with the ``i``-th
scheme and ``j``-th seed. ``sel`` indexes axes by value, ``to_records``/``to_csv`` flatten to
one row per run, and ``summary`` reduces an axis (the seeds) to median and interquartile range.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import warnings
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

__all__ = ["SweepResult"]


def _label(value: Any) -> Any:
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, tuple):
        return "/".join(str(v) for v in value)
    return value


@dataclasses.dataclass
class SweepResult:
    """The results of ``jaxdl.sweep.run`` (or ``kfold``/``bagging``).

    Attributes:
        axes: ordered ``{axis name: tuple of values}``; the leading axes of every array.
        eval_steps: ``(E,)`` the step counts at which the model was evaluated (0 first).
        curves: ``{metric: (*shape, E)}`` for ``train_loss``, ``train_accuracy``,
            ``val_loss``, ``val_accuracy`` (accuracies for classification losses, ``val_``
            when there is validation data), and ``{"batch_loss": (*shape, steps)}``, the
            loss of each training batch.
        final: ``{metric: (*shape,)}``: the last evaluation, and ``skipped``, the number of
            steps skipped for a non-finite loss or gradient.
        params: the final params, each leaf with leading axes ``shape`` (``None`` when not
            kept).
        model_state: the final model state, likewise.
        compile_seconds: time to compile the sweep's program (once for all chunks).
        run_seconds: time to run it, all chunks.
    """

    axes: dict[str, tuple]
    eval_steps: np.ndarray
    curves: dict[str, np.ndarray]
    final: dict[str, np.ndarray]
    params: Any = None
    model_state: Any = None
    compile_seconds: float = 0.0
    run_seconds: float = 0.0

    @property
    def shape(self) -> tuple[int, ...]:
        """The length of each axis."""
        return tuple(len(v) for v in self.axes.values())

    @property
    def num_runs(self) -> int:
        """How many trainings the sweep ran."""
        return int(np.prod(self.shape, dtype=np.int64))

    def _index(self, name: str, value: Any) -> int:
        if name not in self.axes:
            raise KeyError(f"SweepResult: no axis {name!r}; the axes are {list(self.axes)}")
        values = self.axes[name]
        for i, v in enumerate(values):
            if v == value or _label(v) == value:
                return i
        raise KeyError(f"SweepResult: axis {name!r} has no value {value!r}; its values are "
                       f"{[_label(v) for v in values]}")

    def sel(self, **coords: Any) -> SweepResult:
        """The runs at the given axis values, with those axes removed.

        Example: ``result.sel(scheme="he_normal", seed=0).final["val_accuracy"]``.
        """
        index = tuple(self._index(name, coords[name]) if name in coords else slice(None)
                      for name in self.axes)
        unknown = set(coords) - set(self.axes)
        if unknown:
            raise KeyError(f"SweepResult.sel: no axis {sorted(unknown)}; the axes are "
                           f"{list(self.axes)}")
        take = lambda a: None if a is None else a[index]
        return dataclasses.replace(
            self,
            axes={k: v for k, v in self.axes.items() if k not in coords},
            curves={k: v[index] for k, v in self.curves.items()},
            final={k: v[index] for k, v in self.final.items()},
            params=jax.tree.map(take, self.params),
            model_state=jax.tree.map(take, self.model_state),
        )

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per run: its axis values (schemes as labels) and final metrics."""
        rows = []
        for index in itertools.product(*(range(n) for n in self.shape)):
            row = {name: _label(values[i]) for (name, values), i in zip(self.axes.items(), index)}
            row.update({k: v[index].item() for k, v in self.final.items()})
            rows.append(row)
        return rows

    def to_csv(self, path: str) -> str:
        """Writes ``to_records()`` as CSV with a header row; returns ``path``."""
        rows = self.to_records()
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        return path

    def summary(self, over: str = "seed") -> list[dict[str, Any]]:
        """Median and interquartile range of each final metric over the axis ``over``.

        Returns one dict per value of the other axes: their values, then
        ``<metric>_median``, ``<metric>_q25`` and ``<metric>_q75`` (NaNs ignored) and
        ``n``, the number of runs summarised.
        """
        if over not in self.axes:
            raise KeyError(f"SweepResult.summary: no axis {over!r}; the axes are "
                           f"{list(self.axes)}")
        axis = list(self.axes).index(over)
        rest = [(k, v) for k, v in self.axes.items() if k != over]
        stats = {}
        for name, values in self.final.items():
            moved = np.moveaxis(np.asarray(values, np.float64), axis, -1)
            with warnings.catch_warnings():  # all-NaN slices (every seed diverged) give NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                q = np.nanpercentile(moved, [50, 25, 75], axis=-1)
                # inf - inf interpolation gives NaN where diverged runs meet: take the order
                # statistic there, so two infinite losses have an infinite median.
                lower = np.nanpercentile(moved, [50, 25, 75], axis=-1, method="lower")
                stats[name] = np.where(np.isnan(q), lower, q)
        rows = []
        for index in itertools.product(*(range(len(v)) for _, v in rest)):
            row = {name: _label(values[i]) for (name, values), i in zip(rest, index)}
            for name, q in stats.items():
                row[f"{name}_median"] = float(q[0][index])
                row[f"{name}_q25"] = float(q[1][index])
                row[f"{name}_q75"] = float(q[2][index])
            row["n"] = self.shape[axis]
            rows.append(row)
        return rows
