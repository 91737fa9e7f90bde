"""The drift rules of the equipment pages: what the newest readings of one series say.

:func:`judge` looks at the newest ``2 x DRIFT_WINDOW`` readings of one (equipment, parameter)
series: the newest ``DRIFT_WINDOW`` ("recent") against the ``DRIFT_WINDOW`` before them
("previous"); it needs at least ``MIN_HALF`` readings in each half to speak of drift.

- **out of spec** (tone ``bad``): a recent reading lies outside the limits of its spec;
- **drifting** (``warn``): with a spec, the recent mean has moved toward a limit by more than
  ``DRIFT_SHARE`` (10 %) of the spec width (USL - LSL; for a one-sided spec the distance between
  the target, else the previous mean, and the limit) compared with the previous mean;
- **shifted** (``warn``): without a spec, the recent mean lies outside the range (lowest to
  highest) of the previous readings and differs from their mean by more than ``SHIFT_SHARE``
  (2 %) of it. Noise alone does not do that, nor does a machine alternating between products
  (the previous readings then span both); a steady climb does;
- otherwise **steady** (``ok``), or **too few readings** to tell.

The answer is a :class:`Health`; a series the dashboard should show is a :class:`Drift`.
:mod:`threadline.web.equipment` reads the readings and walks the machines.

Pure: values and a spec in, dataclasses out; nothing here reads the store.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from threadline.quality.specs import breach
from threadline.store.quality import SpecRow
from threadline.web.charts import unit_symbol

__all__ = [
    "DRIFT_SHARE",
    "DRIFT_WINDOW",
    "MIN_HALF",
    "SHIFT_SHARE",
    "Drift",
    "Health",
    "judge",
]

DRIFT_WINDOW = 20
MIN_HALF = 5
DRIFT_SHARE = 0.10
SHIFT_SHARE = 0.02

_TONES = {"out_of_spec": "bad", "drifting": "warn", "shifted": "warn", "steady": "ok"}
_RANK = {"out_of_spec": 0, "drifting": 1, "shifted": 2, "steady": 3, "few": 4, "none": 5}
_LABELS = {"out_of_spec": "out of spec", "few": "too few readings", "none": "no readings"}
_LABELS.update({state: state for state in ("drifting", "shifted", "steady")})


def _limit_text(spec: SpecRow) -> str:
    parts = []
    if spec.lsl is not None:
        parts.append(f"LSL {spec.lsl:g}")
    if spec.target is not None:
        parts.append(f"target {spec.target:g}")
    if spec.usl is not None:
        parts.append(f"USL {spec.usl:g}")
    unit = unit_symbol(spec.unit)
    return ", ".join(parts) + (f" {unit}" if unit else "")


@dataclass(frozen=True)
class Health:
    """What the newest readings of one series say (see the module docstring)."""

    state: str  # out_of_spec | drifting | shifted | steady | few | none
    message: str
    recent_mean: float | None = None
    previous_mean: float | None = None
    share: float = 0.0  # how far it moved, as a share of the spec width (or of the mean)

    @property
    def tone(self) -> str:
        return _TONES.get(self.state, "gone")

    @property
    def label(self) -> str:
        return _LABELS[self.state]

    @property
    def alarming(self) -> bool:
        return self.state in ("out_of_spec", "drifting", "shifted")


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def judge(newest: Sequence[float], spec: SpecRow | None, *, unit: str | None = None) -> Health:
    """The health of a series from its values, newest first (pure; see the module docstring)."""
    if not newest:
        return Health("none", "no readings")
    symbol = unit_symbol(unit or (spec.unit if spec else None))
    unit_text = f" {symbol}" if symbol else ""
    half = min(DRIFT_WINDOW, len(newest) // 2) if len(newest) >= 2 * MIN_HALF else 0
    recent = newest[: half or DRIFT_WINDOW]
    previous = newest[half : 2 * half] if half else []
    recent_mean = _mean(recent)
    if spec is not None:
        outside = [v for v in recent if breach(v, spec.lsl, spec.usl)]
        if outside:
            return Health(
                "out_of_spec",
                f"{len(outside)} of the last {len(recent)} readings outside the limits "
                f"({_limit_text(spec)})",
                recent_mean,
                _mean(previous) if previous else None,
                share=1.0 + len(outside) / len(recent),
            )
    if not previous:
        return Health("few", f"{len(newest)} readings: too few to judge drift", recent_mean)
    previous_mean = _mean(previous)
    moved = recent_mean - previous_mean
    mean_text = (
        f"mean of the last {len(recent)} {_signed(moved)}{unit_text} "
        f"({previous_mean:.4g} -> {recent_mean:.4g})"
    )
    if spec is not None and (spec.lsl is not None or spec.usl is not None):
        toward = spec.usl if moved > 0 else spec.lsl
        if toward is None or moved == 0:
            return Health(
                "steady", f"{mean_text}, away from the limits", recent_mean, previous_mean
            )
        if spec.lsl is not None and spec.usl is not None:
            width = spec.usl - spec.lsl
        else:
            width = abs(toward - (spec.target if spec.target is not None else previous_mean))
        share = abs(moved) / width if width > 0 else math.inf
        side = "USL" if moved > 0 else "LSL"
        if share > DRIFT_SHARE:
            return Health(
                "drifting",
                f"{mean_text}: toward {side} by {share:.0%} of the spec width",
                recent_mean,
                previous_mean,
                share,
            )
        return Health("steady", f"{mean_text}, {share:.0%} of the spec width", recent_mean,
                      previous_mean, share)  # fmt: skip
    scale = abs(previous_mean)
    share = abs(moved) / scale if scale > 0 else (math.inf if moved else 0.0)
    beyond = not min(previous) <= recent_mean <= max(previous)
    if share > SHIFT_SHARE and beyond:
        return Health(
            "shifted",
            f"{mean_text}: {share:.1%}, outside the range of the {len(previous)} before "
            "(no spec to compare with)",
            recent_mean,
            previous_mean,
            share,
        )
    return Health("steady", mean_text, recent_mean, previous_mean, share)


def _signed(value: float) -> str:
    return f"moved {'+' if value >= 0 else '-'}{abs(value):.3g}"


@dataclass(frozen=True)
class Drift:
    """A series the dashboard should show: out of spec, drifting or shifted."""

    key: str  # the machine's key
    name: str  # the machine's short name
    detail: str  # what is wrong, in words
    href: str  # its equipment page, on this parameter
    device: str  # the key the readings are stored under
    parameter: str
    state: str  # out_of_spec | drifting | shifted
    tone: str  # bad | warn
    last_time: str  # the series' newest reading
