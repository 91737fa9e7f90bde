"""Quality commands: ``specs set|list``, ``alerts``, ``hold``, ``release``, ``holds``.

``threadline alerts`` lists (and ``--ack``s) alerts; its subcommands ``subscribe URL``,
``subscriptions``, ``deliveries ID`` and ``unsubscribe ID`` manage the webhook subscribers
that each new alert is POSTed to (delivered by the server and the ingesters, see
:mod:`threadline.ingest.alert_webhooks`).

Registered on the main ``threadline`` app by :mod:`threadline.cli` (imported at its end). The
CLI acts with the rights of whoever can open the database; the actor recorded in the audit log
is ``--user`` (default: the login name).
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Table

from threadline.cli import DbOption, JsonOption, _print_json, _run, _store, app, console
from threadline.quality import alerts as alerts_mod
from threadline.quality import holds as holds_mod
from threadline.quality import specs as specs_mod
from threadline.store.subscriptions import AlertSubscription

specs_app = typer.Typer(help="Specification limits (LSL, USL, target).", no_args_is_help=True)
app.add_typer(specs_app, name="specs")
alerts_app = typer.Typer(
    help="Alerts raised (newest first); --ack ID acknowledges one. Subcommands manage the "
    "webhook subscribers alerts are POSTed to."
)
app.add_typer(alerts_app, name="alerts")

UserOption = Annotated[
    str | None, typer.Option("--user", help="Who acts (audit log); default: the login name.")
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (kept with the hold).")]


def _user(user: str | None) -> str:
    if user:
        return user
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "cli"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


@specs_app.command("set")
def specs_set(
    parameter: Annotated[str, typer.Argument(help="Parameter, e.g. forming_force.")],
    lsl: Annotated[float | None, typer.Option("--lsl", help="Lower spec limit.")] = None,
    usl: Annotated[float | None, typer.Option("--usl", help="Upper spec limit.")] = None,
    target: Annotated[float | None, typer.Option("--target", help="Nominal value.")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="UN/ECE rec 20 unit.")] = None,
    product: Annotated[str | None, typer.Option("--product", help="GTIN or part.")] = None,
    equipment: Annotated[
        str | None, typer.Option("--equipment", "--operation", help="Machine or operation.")
    ] = None,
    user: UserOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create or replace the limits of PARAMETER (for one product/equipment, or any)."""
    with _store(db, as_json=as_json) as store:
        spec = _run(
            lambda: specs_mod.set_spec(
                store,
                parameter=parameter,
                product=product,
                equipment=equipment,
                lsl=lsl,
                usl=usl,
                target=target,
                unit=unit,
                user=_user(user),
            ),
            as_json=as_json,
        )
    if as_json:
        _print_json(spec.to_dict())
    else:
        console.print(
            f"spec #{spec.id}: {spec.parameter} [{_num(spec.lsl)}, {_num(spec.usl)}]",
            highlight=False,
        )


@specs_app.command("list")
def specs_list(
    parameter: Annotated[str | None, typer.Option("--parameter")] = None,
    equipment: Annotated[str | None, typer.Option("--equipment")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The specs, by parameter."""
    with _store(db, as_json=as_json) as store:
        found = _run(
            lambda: specs_mod.list_specs(store, parameter=parameter, equipment=equipment),
            as_json=as_json,
        )
    if as_json:
        _print_json([s.to_dict() for s in found])
        return
    table = Table("id", "parameter", "product", "equipment", "LSL", "target", "USL", "unit")
    for s in found:
        table.add_row(
            str(s.id), s.parameter, s.product or "any", s.equipment or "any", _num(s.lsl),
            _num(s.target), _num(s.usl), s.unit or "",
        )  # fmt: skip
    console.print(table)


@alerts_app.callback(invoke_without_command=True)
def alerts_list(
    ctx: typer.Context,
    unacked: Annotated[bool, typer.Option("--unacked", help="Only unacknowledged.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 100,
    ack: Annotated[int | None, typer.Option("--ack", help="Acknowledge alert ID.")] = None,
    user: UserOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Alerts raised (newest first); --ack ID acknowledges one."""
    if ctx.invoked_subcommand is not None:
        return
    with _store(db, as_json=as_json) as store:
        if ack is not None:
            done = _run(
                lambda: alerts_mod.acknowledge(store, ack, user=_user(user)), as_json=as_json
            )
            if as_json:
                _print_json(done.to_dict())
            else:
                console.print(f"alert #{done.id} acknowledged by {done.acked_by}", highlight=False)
            return
        found = alerts_mod.list_alerts(store, limit=limit, unacked=unacked)
    if as_json:
        _print_json([a.to_dict() for a in found])
        return
    table = Table("id", "raised", "kind", "message", "acked")
    for a in found:
        table.add_row(str(a.id), a.time, a.kind, a.message, a.acked_by or "")
    console.print(table)


def _filters(sub: AlertSubscription) -> str:
    given = [
        f"{name}={value}"
        for name, value in (("kind", sub.kind), ("equipment", sub.equipment),
                            ("parameter", sub.parameter), ("site", sub.site))
        if value is not None
    ]  # fmt: skip
    return ", ".join(given) or "all alerts"


@alerts_app.command("subscribe")
def alerts_subscribe(
    dest: Annotated[str, typer.Argument(help="http(s) URL each new alert is POSTed to.")],
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            envvar="THREADLINE_ALERT_SECRET",
            help="Key of the GS1-Signature HMAC-SHA256 header (or $THREADLINE_ALERT_SECRET).",
            show_default=False,
        ),
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="Only out_of_spec or held_material alerts.")
    ] = None,
    equipment: Annotated[
        str | None, typer.Option("--equipment", help="Only alerts of this machine.")
    ] = None,
    parameter: Annotated[
        str | None, typer.Option("--parameter", help="Only alerts on this parameter.")
    ] = None,
    site: Annotated[str | None, typer.Option("--site", help="Only alerts of this site.")] = None,
    user: UserOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """POST each alert raised from now on (passing every filter given) to DEST."""
    with _store(db, as_json=as_json) as store:
        sub = _run(
            lambda: alerts_mod.subscribe(
                store, dest, secret=secret, kind=kind, equipment=equipment, parameter=parameter,
                site=site, user=_user(user),
            ),
            as_json=as_json,
        )  # fmt: skip
    if as_json:
        _print_json(sub.to_dict())
    else:
        signed = "signed" if sub.secret else "unsigned"
        console.print(
            f"alert subscription {sub.id}: {sub.dest} ({_filters(sub)}; {signed})",
            highlight=False,
            soft_wrap=True,
        )


@alerts_app.command("subscriptions")
def alerts_subscriptions(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Webhook subscribers of alerts, with what waits for them and how delivery goes."""
    with _store(db, as_json=as_json) as store:
        found = _run(lambda: alerts_mod.alert_subscriptions(store), as_json=as_json)
    if as_json:
        _print_json([s.to_dict() for s in found])
        return
    table = Table(title="Alert subscriptions")
    for col in ("id", "dest", "filters", "signed", "pending", "delivered", "failures", "error"):
        table.add_column(col, overflow="fold")  # ids and URLs wrap whole, never cut short
    for s in found:
        table.add_row(
            s.id, s.dest, _filters(s), "yes" if s.secret else "no", str(s.pending or 0),
            s.last_delivered_at or "", str(s.failures or ""), s.last_error or "",
        )  # fmt: skip
    console.print(table)


@alerts_app.command("deliveries")
def alerts_deliveries(
    subscription: Annotated[str, typer.Argument(help="The subscription's id.")],
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The delivery record of one subscription, newest alert first."""
    with _store(db, as_json=as_json) as store:
        found = _run(
            lambda: alerts_mod.alert_deliveries(store, subscription, limit=limit),
            as_json=as_json,
        )
    if as_json:
        _print_json([d.to_dict() for d in found])
        return
    table = Table("alert", "queued", "attempts", "status", "delivered", "error")
    for d in found:
        table.add_row(
            str(d.alert), d.queued_at, str(d.attempts), "" if d.status is None else str(d.status),
            d.delivered_at or "", d.last_error or "",
        )  # fmt: skip
    console.print(table)


@alerts_app.command("unsubscribe")
def alerts_unsubscribe(
    subscription: Annotated[str, typer.Argument(help="The subscription's id.")],
    user: UserOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """End a webhook subscription (alerts still waiting for it are dropped)."""
    with _store(db, as_json=as_json) as store:
        gone = _run(
            lambda: alerts_mod.unsubscribe(store, subscription, user=_user(user)),
            as_json=as_json,
        )
    if as_json:
        _print_json(gone.to_dict())
    else:
        console.print(f"alert subscription {gone.id} ({gone.dest}) ended", highlight=False)


@app.command("hold")
def hold(
    identifier: Annotated[str, typer.Argument(help="Lot or container, any identifier form.")],
    reason: ReasonOption,
    user: UserOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Put a lot or container, and everything downstream of it, on hold."""
    with _store(db, as_json=as_json) as store:
        placed = _run(
            lambda: holds_mod.place_hold(store, identifier, reason=reason, user=_user(user)),
            as_json=as_json,
        )
        with store.reader() as reader:
            covered = len(holds_mod.held_map(reader))
    if as_json:
        _print_json({**placed.to_dict(), "held_objects": covered})
    else:
        console.print(
            f"hold #{placed.id} on {placed.object}: {placed.reason} "
            f"({covered} object{'s' if covered != 1 else ''} held in all)",
            highlight=False,
        )


@app.command("release")
def release(
    identifier: Annotated[str, typer.Argument(help="The held lot or container.")],
    reason: ReasonOption,
    user: UserOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Release the holds placed on a lot or container."""
    with _store(db, as_json=as_json) as store:
        released = _run(
            lambda: holds_mod.release_object(store, identifier, reason=reason, user=_user(user)),
            as_json=as_json,
        )
    if as_json:
        _print_json([h.to_dict() for h in released])
    else:
        for h in released:
            console.print(f"hold #{h.id} on {h.object} released", highlight=False)


@app.command("holds")
def holds_list(
    identifier: Annotated[
        str | None, typer.Option("--object", help="Is this object held, and by what?")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Released holds too.")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Holds (active by default), or the holds covering one object."""
    with _store(db, as_json=as_json) as store:
        if identifier is not None:
            with store.reader() as reader:
                covering = _run(lambda: holds_mod.holds_on(reader, identifier), as_json=as_json)
            if as_json:
                _print_json({"object": identifier, "on_hold": bool(covering), "holds": covering})
            elif not covering:
                console.print(f"{identifier}: not on hold", highlight=False)
            else:
                for h in covering:
                    via = "" if h["direct"] else f" (via {h['via']})"
                    console.print(
                        f"{identifier}: ON HOLD #{h['id']}{via}: {h['reason']}", highlight=False
                    )
            return
        found = holds_mod.list_holds(store, active_only=not all_)
    if as_json:
        _print_json([h.to_dict() for h in found])
        return
    table = Table("id", "object", "reason", "placed", "by", "released")
    for row in found:
        released = row.released_at or ""
        table.add_row(
            str(row.id), row.object, row.reason, row.placed_at, row.placed_by or "", released
        )
    console.print(table)
