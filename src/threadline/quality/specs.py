"""Specification limits per product, operation (equipment) and parameter, and checking values.

A spec names a parameter (the same measurement word readings are stored under, e.g.
``forming_force``), optionally one product (GTIN or part number) and one operation or piece of
equipment, and its limits: LSL, USL (either may be open) and an optional target. A reading is
checked against every spec of its parameter whose equipment is the reading's or unset; machine
readings carry no product, so the product of a spec narrows nothing for them (it documents
which product the limits belong to, and EPCIS sensor readings match it the same way).
"""

from __future__ import annotations

from threadline.epcis.sensors import measurement_word
from threadline.errors import InvalidInput
from threadline.gs1.keys import canonical
from threadline.store import quality as rows
from threadline.store.base import Store

__all__ = ["breach", "list_specs", "set_spec"]


def breach(value: float, lsl: float | None, usl: float | None) -> str | None:
    """``"below LSL"`` / ``"above USL"`` when ``value`` is outside the limits, else None.

    A value on a limit is inside (limits are inclusive, as on a drawing).
    """
    if lsl is not None and value < lsl:
        return "below LSL"
    if usl is not None and value > usl:
        return "above USL"
    return None


def _key(raw: str | None) -> str:
    if raw is None or not raw.strip():
        return ""
    return canonical(raw.strip()).key


def set_spec(
    store: Store,
    *,
    parameter: str,
    product: str | None = None,
    equipment: str | None = None,
    lsl: float | None = None,
    usl: float | None = None,
    target: float | None = None,
    unit: str | None = None,
    user: str | None = None,
) -> rows.SpecRow:
    """Create or replace the spec of (product, equipment, parameter); bad limits are refused."""
    if not parameter or not parameter.strip():
        raise InvalidInput("parameter: give the parameter the limits apply to")
    if lsl is None and usl is None:
        raise InvalidInput("give at least one limit (--lsl and/or --usl)")
    if lsl is not None and usl is not None and lsl > usl:
        raise InvalidInput(f"LSL ({lsl}) is above USL ({usl})")
    if target is not None and breach(target, lsl, usl):
        raise InvalidInput(f"target ({target}) lies outside the limits [{lsl}, {usl}]")
    return rows.upsert_spec(
        store,
        product=_key(product),
        equipment=_key(equipment),
        parameter=measurement_word(parameter.strip()),
        lsl=lsl,
        usl=usl,
        target=target,
        unit=unit or None,
        user=user,
    )


def list_specs(
    store: Store, *, parameter: str | None = None, equipment: str | None = None
) -> list[rows.SpecRow]:
    return rows.list_specs(
        store,
        parameter=None if not parameter else measurement_word(parameter),
        equipment=None if equipment is None else _key(equipment),
    )
