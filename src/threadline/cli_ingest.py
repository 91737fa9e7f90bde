"""The shop floor's commands: ``scan``, ``stations``, ``ingest mqtt|opcua|errors``, ``readings``.

Registered on the main ``threadline`` app by :mod:`threadline.cli` (imported at its end), sharing
its options and error handling.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from threadline.cli import (
    DbOption,
    JsonOption,
    _print_json,
    _run,
    _store,
    app,
    console,
    err_console,
)

stations_app = typer.Typer(
    help="Scanning stations: read point and bizStep of the scans made there.",
    no_args_is_help=True,
)
ingest_app = typer.Typer(
    help="Ingest readings, scans and events from MQTT or OPC UA.", no_args_is_help=True
)
app.add_typer(stations_app, name="stations")
app.add_typer(ingest_app, name="ingest")

BatchOption = Annotated[
    int, typer.Option("--batch-size", min=1, help="Readings per transaction at most.")
]
DelayOption = Annotated[
    float,
    typer.Option("--max-delay", min=0.0, help="Seconds from a batch's first reading to commit."),
]


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


# -- scans and stations ---------------------------------------------------------------------------


@app.command()
def scan(
    data: Annotated[
        str,
        typer.Argument(
            help="Raw scan: ']d2...', ']C1...', ']Q1https://...', "
            "a Digital Link URI or '(01)...(10)...'."
        ),
    ],
    station: Annotated[str, typer.Option("--station", help="The station the scan was made at.")],
    time: Annotated[
        str | None,
        typer.Option(
            "--time", help="Scan time, ISO-8601 with zone (default: now).", show_default=False
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a scan at a station as an EPCIS ObjectEvent (OBSERVE); a repeat stores once."""
    from threadline.ingest.scans import record_scan

    with _store(db, as_json=as_json) as store:
        result = _run(lambda: record_scan(store, station, data, time), as_json=as_json)
    if as_json:
        _print_json(result.to_dict())
        return
    state = "stored" if result.stored else "already stored"
    console.print(
        f"{result.item.kind} {result.item.id} at {result.station}: {state} as {result.event_id}",
        highlight=False,
        soft_wrap=True,
    )


@stations_app.command("set")
def stations_set(
    station_id: Annotated[str, typer.Argument(metavar="ID", help="How scanners name the station.")],
    bizstep: Annotated[str, typer.Option("--bizstep", help="CBV bizStep of its scans, or a URI.")],
    read_point: Annotated[
        str | None,
        typer.Option(
            "--read-point", help="readPoint URI (default: ID, if it is a URI).", show_default=False
        ),
    ] = None,
    location: Annotated[
        str | None,
        typer.Option("--location", help="bizLocation URI of its scans.", show_default=False),
    ] = None,
    disposition: Annotated[
        str | None,
        typer.Option("--disposition", help="CBV disposition of its scans.", show_default=False),
    ] = None,
    db: DbOption = None,
) -> None:
    """Create or change a station."""
    from threadline.ingest.stations import set_station

    with _store(db) as store:
        station = _run(
            lambda: set_station(
                store,
                station_id,
                biz_step=bizstep,
                read_point=read_point,
                biz_location=location,
                disposition=disposition,
            )
        )
    console.print(
        f"station {station.id}: readPoint {station.read_point}, bizStep {station.biz_step}",
        highlight=False,
        soft_wrap=True,
    )


@stations_app.command("list")
def stations_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Every configured station."""
    from threadline.ingest.stations import list_stations

    with _store(db, as_json=as_json) as store:
        stations = _run(lambda: list_stations(store), as_json=as_json)
    if as_json:
        _print_json([s.to_dict() for s in stations])
        return
    table = Table(title="Stations")
    for col in ("id", "readPoint", "bizStep", "bizLocation", "disposition"):
        table.add_column(col, overflow="fold")
    for s in stations:
        table.add_row(s.id, s.read_point, s.biz_step, s.biz_location or "", s.disposition or "")
    console.print(table)


# -- ingesters ------------------------------------------------------------------------------------


def _run_ingester(ingester: Any, describe: str) -> None:
    from threadline.ingest.sources import stop_on_signals

    _run(ingester.start)
    err_console.print(f"ingesting: {describe} (Ctrl-C stops)", highlight=False, soft_wrap=True)
    try:
        with stop_on_signals(ingester):
            ingester.run()
    finally:
        ingester.close()
    s = ingester.stats
    err_console.print(
        f"stopped: {s.readings_stored:,} readings and {s.events_stored:,} events stored, "
        f"{s.errors:,} payloads refused, in {s.batches:,} batches",
        highlight=False,
    )


@ingest_app.command("mqtt")
def ingest_mqtt(
    broker: Annotated[
        str | None,
        typer.Option(
            "--broker",
            help="mqtt://HOST[:PORT], mqtts:// for TLS (default: $THREADLINE_MQTT_BROKER or "
            "mqtt://127.0.0.1:1883).",
            show_default=False,
        ),
    ] = None,
    site: Annotated[str, typer.Option("--site", help="The site to ingest, + for all.")] = "+",
    client_id: Annotated[
        str | None,
        typer.Option(
            "--client-id",
            help="MQTT session id (default threadline-ingest[-SITE]).",
            show_default=False,
        ),
    ] = None,
    batch_size: BatchOption = 20_000,
    max_delay: DelayOption = 0.05,
    session_expiry: Annotated[
        int,
        typer.Option(
            "--session-expiry", min=0, help="Seconds the broker keeps the session while away."
        ),
    ] = 7 * 24 * 3600,
    db: DbOption = None,
) -> None:
    """Subscribe (QoS 1, persistent session) to threadline/{site}/{equipment}/readings,
    .../{station}/scans and threadline/{site}/events; acknowledge each message after commit."""
    from threadline.config import Settings
    from threadline.ingest.alerts import checker_for
    from threadline.ingest.mqtt import MqttIngester, MqttOptions

    _logging()
    broker = broker or _run(lambda: Settings.from_env(db=db)).mqtt_broker
    options = MqttOptions(
        broker=broker,
        site=site,
        client_id=client_id,
        batch_size=batch_size,
        max_delay=max_delay,
        session_expiry=session_expiry,
    )
    with _store(db) as store:
        ingester = _run(lambda: MqttIngester(store, options))
        checker_for(ingester)  # spec checks of fresh readings; alerts on .../alerts
        topics = ", ".join(ingester.topics)
        _run_ingester(
            ingester,
            f"{broker} as {options.effective_client_id()}, topics {topics}, into "
            f"{store.describe()}",
        )


@ingest_app.command("opcua")
def ingest_opcua(
    endpoint: Annotated[str, typer.Option("--endpoint", help="opc.tcp://HOST:PORT/PATH")],
    map_file: Annotated[
        Path,
        typer.Option(
            "--map",
            exists=True,
            dir_okay=False,
            help="YAML or JSON: node ids -> equipment, parameter, unit.",
        ),
    ],
    batch_size: BatchOption = 20_000,
    max_delay: DelayOption = 0.2,
    db: DbOption = None,
) -> None:
    """Subscribe to the mapped OPC UA nodes and store their data changes as readings."""
    from threadline.ingest.alerts import publisher_from_env
    from threadline.ingest.opcua import OpcUaIngester, OpcUaOptions, load_node_map
    from threadline.quality.alerts import AlertChecker

    _logging()
    nodes = _run(lambda: load_node_map(map_file))
    options = OpcUaOptions(endpoint=endpoint, batch_size=batch_size, max_delay=max_delay)
    with _store(db) as store:
        ingester = _run(lambda: OpcUaIngester(store, nodes, options))
        # Spec checks of fresh readings; alerts published when THREADLINE_MQTT_BROKER is set.
        ingester.writer.listeners.append(AlertChecker(publisher_from_env()))
        _run_ingester(ingester, f"{endpoint}, {len(nodes)} nodes, into {store.describe()}")


@ingest_app.command("errors")
def ingest_errors(
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many, newest first.")] = 50,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Payloads the ingesters refused, newest first, with the reason."""
    from threadline.store.ingest_errors import list_errors

    with _store(db, as_json=as_json) as store:
        errors = _run(lambda: list_errors(store, limit=limit), as_json=as_json)
    if as_json:
        _print_json([e.to_dict() for e in errors])
        return
    table = Table(title="Refused payloads")
    for col in ("time", "source", "topic", "reason", "payload"):
        table.add_column(col, overflow="fold")
    for e in errors:
        table.add_row(e.time, e.source, e.topic or "", e.reason, (e.payload or "")[:80])
    console.print(table)


# -- readings -------------------------------------------------------------------------------------


@app.command()
def readings(
    equipment: Annotated[str, typer.Option("--equipment", help="Equipment (any identifier form).")],
    parameter: Annotated[
        str | None, typer.Option("--parameter", help="Only this parameter.", show_default=False)
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="ISO-8601 start (inclusive).", show_default=False)
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="ISO-8601 end (exclusive).", show_default=False)
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="At most this many.", show_default=False)
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Readings of a machine, oldest first: EPCIS sensor reports, MQTT and OPC UA alike."""
    from threadline.ingest.readings import find_readings

    with _store(db, as_json=as_json) as store, store.reader() as reader:
        rows = _run(
            lambda: find_readings(
                reader, equipment, parameter=parameter, start=start, end=end, limit=limit
            ),
            as_json=as_json,
        )
    if as_json:
        _print_json(rows)
        return
    table = Table(title=f"Readings of {equipment}")
    for col in ("time", "parameter", "value", "unit", "source"):
        table.add_column(col, overflow="fold")
    for r in rows:
        value = "" if r["value"] is None else f"{r['value']:g}"
        table.add_row(r["time"], r["parameter"] or "", value, r["unit"] or "", r["source"])
    console.print(table)
    console.print(f"{len(rows)} readings")
