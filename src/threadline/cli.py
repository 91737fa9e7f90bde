"""The ``threadline`` command line: thin, parses arguments, calls the service layer, prints."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from threadline.errors import ThreadlineError
from threadline.store import Reader, Store, open_store

app = typer.Typer(
    help="Threadline: track-and-trace and quality traceability on GS1 EPCIS 2.0 events.",
    no_args_is_help=True,
    add_completion=False,
)
trace_app = typer.Typer(help="Backward and forward trace of one object.", no_args_is_help=True)
app.add_typer(trace_app, name="trace")

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLite file or postgresql:// URL (default: $THREADLINE_DB or ./threadline.db).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]

T = TypeVar("T")


def _fail(exc: ThreadlineError, *, as_json: bool = False) -> None:
    if as_json:
        print(json.dumps(exc.to_dict()), file=sys.stderr)
    else:
        err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2 if exc.status >= 500 else 1)


@contextmanager
def _store(db: str | None, *, as_json: bool = False) -> Iterator[Store]:
    try:
        store = open_store(db)
    except ThreadlineError as exc:
        _fail(exc, as_json=as_json)
        raise  # unreachable; keeps type checkers content
    try:
        yield store
    finally:
        store.close()


def _run(fn: Callable[[], T], *, as_json: bool = False) -> T:
    try:
        return fn()
    except ThreadlineError as exc:
        _fail(exc, as_json=as_json)
        raise


class _Answer(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


A = TypeVar("A", bound=_Answer)


def _answer(db: str | None, as_json: bool, ask: Callable[[Reader], A]) -> A | None:
    """Run a read-only question; with ``--json`` print its JSON and return None."""
    with _store(db, as_json=as_json) as store, store.reader() as reader:
        result = _run(lambda: ask(reader), as_json=as_json)
    if as_json:
        _print_json(result.to_dict())
        return None
    return result


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
        disable=not err_console.is_terminal and os.environ.get("THREADLINE_PROGRESS") != "1",
    )


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# -- import / rebuild --------------------------------------------------------------------------


@app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help="EPCIS 2.0 JSON / JSON-LD documents.")],
    db: DbOption = None,
) -> None:
    """Import EPCIS documents; each document lands whole or not at all."""
    from threadline.service import import_document

    failed = 0
    with _store(db) as store, _progress() as progress:
        for path in files:
            task = progress.add_task(path.name, total=None)

            def start(n: int, task: TaskID = task) -> None:
                progress.update(task, total=n)

            def advance(n: int, task: TaskID = task) -> None:
                progress.advance(task, n)

            try:
                report = import_document(store, path, on_start=start, progress=advance)
            except ThreadlineError as exc:
                failed += 1
                progress.update(task, description=f"{path.name} [red]rejected")
                err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False)
                err_console.print(f"  nothing of {path} was stored", highlight=False)
                continue
            r = report.result
            console.print(
                f"{path}: {r.inserted} stored, {r.duplicates} already stored"
                + (f", {r.declared_in_error} declared in error" if r.declared_in_error else ""),
                highlight=False,
                soft_wrap=True,
            )
    if failed:
        raise typer.Exit(code=1)


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="EPCIS documents, JSON/JSON-LD or XML.")],
    schema: Annotated[
        Path | None,
        typer.Option(
            "--schema",
            help="The official EPCIS 2.0 JSON Schema file (default: $THREADLINE_EPCIS_SCHEMA).",
            show_default=False,
        ),
    ] = None,
    xsd: Annotated[
        list[Path] | None,
        typer.Option(
            "--xsd",
            help="A directory holding the official EPCIS XSDs, searched recursively for the "
            "schema of each XML document (EPCIS 2.0 or 1.2, by namespace); repeat for more "
            "(default: $THREADLINE_EPCIS_XSD).",
            exists=True,
            file_okay=False,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Report every fault of each document (file, event, pointer or XML line); exit 1 on any."""
    import os

    from threadline.epcis.validate import SCHEMA_ENV, XSD_ENV, validate_document
    from threadline.epcis.xml_reader import is_xml

    notes = {
        "json": None
        if schema is not None or os.environ.get(SCHEMA_ENV)
        else "note: no JSON Schema given (--schema or $THREADLINE_EPCIS_SCHEMA); "
        "checking JSON against the standard's rules only",
        "xml": None
        if xsd or os.environ.get(XSD_ENV)
        else "note: no XSD directory given (--xsd or $THREADLINE_EPCIS_XSD); "
        "checking XML against the standard's rules only",
    }
    errors = 0
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            err_console.print(f"[bold red]error:[/] {path}: cannot read: {exc.strerror}")
            errors += 1
            continue
        note = notes.pop("xml" if is_xml(data) else "json", None)
        if note:
            err_console.print(note, highlight=False)
        faults = _run(
            lambda data=data, path=path: validate_document(  # type: ignore[misc]
                data, source=str(path), schema_path=schema, xsd_dirs=xsd or None
            )
        )
        for fault in faults:
            colour = "red" if fault.severity == "error" else "yellow"
            console.print(
                f"[{colour}]{fault.severity}:[/] {fault}", highlight=False, soft_wrap=True
            )
        found = sum(1 for f in faults if f.severity == "error")
        errors += found
        if not found:
            console.print(f"{path}: valid", highlight=False, soft_wrap=True)
    if errors:
        raise typer.Exit(code=1)


class ConvertTarget(StrEnum):
    """The formats ``threadline convert`` writes."""

    jsonld = "jsonld"
    xml = "xml"


@app.command()
def convert(
    file: Annotated[Path, typer.Argument(help="An EPCIS document, JSON/JSON-LD or XML.")],
    to: Annotated[ConvertTarget, typer.Option("--to", help="The format to write.")],
    out: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write here instead of to stdout.", show_default=False),
    ] = None,
    schema: Annotated[
        Path | None,
        typer.Option(
            "--schema",
            help="The official EPCIS 2.0 JSON Schema file (default: $THREADLINE_EPCIS_SCHEMA).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Convert between EPCIS 2.0 JSON-LD and XML; a faulty document is refused (exit 1) with
    its file, event and JSON pointer or XML line, and nothing is written."""
    from threadline.service import convert_file

    data = _run(lambda: convert_file(file, to.value, schema_path=schema))
    if out is None:
        typer.echo(data, nl=False)
        return
    try:
        out.write_bytes(data)
    except OSError as exc:
        err_console.print(f"[bold red]error:[/] {out}: cannot write: {exc.strerror}")
        raise typer.Exit(code=1) from None
    err_console.print(f"{file} -> {out} ({to.value})", highlight=False)


@app.command()
def rebuild(db: DbOption = None) -> None:
    """Recompute every projection (edges, status, index) from the stored events."""
    with _store(db) as store, _progress() as progress:
        total = store.counts()["events"]
        task = progress.add_task("rebuild", total=total)
        started = time.perf_counter()
        count = _run(lambda: store.rebuild(progress=lambda n: progress.advance(task, n)))
        progress.update(task, total=count, completed=count)
    console.print(f"replayed {count} events in {time.perf_counter() - started:.1f} s")


@app.command()
def verify(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Recompute the events' hash chain; name the first event modified, deleted or inserted
    behind the service's back (exit 1)."""
    from threadline.store.chain import verify as verify_chain

    with _store(db) as store, _progress() as progress:
        task = progress.add_task("verify", total=store.counts()["events"])
        with store.reader() as reader:
            report = _run(
                lambda: verify_chain(reader, progress=lambda n: progress.advance(task, n))
            )
    if as_json:
        _print_json(report.to_dict())
    elif report.fault is None:
        console.print(f"chain intact: {report.checked} events, head {report.head}")
    else:
        console.print(f"[red]chain broken[/red] ({report.fault.kind}): {report.fault.message}")
        console.print(f"the {report.checked} events before it are intact")
    if report.fault is not None:
        raise typer.Exit(code=1)


# -- genealogy ----------------------------------------------------------------------------------


def _trace(
    direction: str,
    identifier: str,
    db: str | None,
    as_json: bool,
    depth: int | None,
    links: bool,
) -> None:
    from threadline.genealogy import trace

    result = _answer(
        db,
        as_json,
        lambda reader: trace(reader, identifier, direction, max_depth=depth, links=links),  # type: ignore[arg-type]
    )
    if result is None:
        return
    table = Table(title=f"{direction} trace of {result.root} ({result.kind})")
    for col in ("depth", "object", "kind", "relation", "quantity", "via", "time"):
        table.add_column(col, overflow="fold")
    for n in result.nodes:
        quantity = "" if n.quantity is None else f"{n.quantity:g} {n.uom or ''}"
        table.add_row(str(n.depth), n.id, n.kind, n.relation, quantity, n.via, n.time)
    console.print(table)
    console.print(
        f"{len(result.nodes)} objects" + (f", {len(result.links)} links" if links else "")
    )


DepthOption = Annotated[int | None, typer.Option("--depth", help="Stop after this many links.")]
LinksOption = Annotated[
    bool, typer.Option("--links", help="Also list every link followed (for graphs).")
]


@trace_app.command("backward")
def trace_backward(
    identifier: Annotated[str, typer.Argument(help="EPC URN, Digital Link URI or other URI.")],
    db: DbOption = None,
    as_json: JsonOption = False,
    depth: DepthOption = None,
    links: LinksOption = False,
) -> None:
    """Everything upstream: lots, heats, machines' outputs that went into IDENTIFIER."""
    _trace("backward", identifier, db, as_json, depth, links)


@trace_app.command("forward")
def trace_forward(
    identifier: Annotated[str, typer.Argument(help="EPC URN, Digital Link URI or other URI.")],
    db: DbOption = None,
    as_json: JsonOption = False,
    depth: DepthOption = None,
    links: LinksOption = False,
) -> None:
    """Everything downstream: lots, boxes, pallets and customers IDENTIFIER reached."""
    _trace("forward", identifier, db, as_json, depth, links)


@app.command()
def recall(
    identifiers: Annotated[list[str], typer.Argument(help="Suspect objects, any GS1 form.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Recall scope: shipments, customers with quantities, and what is still in stock."""
    from threadline.genealogy import recall as recall_scope

    scope = _answer(db, as_json, lambda reader: recall_scope(reader, identifiers))
    if scope is None:
        return
    console.print(f"[bold]Suspects:[/] {', '.join(s['id'] for s in scope.suspects)}")
    console.print(f"{len(scope.affected)} affected objects, {len(scope.shipments)} shipments")
    customers = Table(title="Customers")
    for col in ("customer", "item", "quantity"):
        customers.add_column(col, overflow="fold")
    for c in scope.customers:
        for item in c.items:
            qty = "" if item.quantity is None else f"{item.quantity:g} {item.uom or ''}"
            customers.add_row(c.id, item.id, qty)
    console.print(customers)
    stock = Table(title="In stock")
    for col in ("object", "kind", "location", "quantity", "container"):
        stock.add_column(col, overflow="fold")
    for s in scope.in_stock:
        qty = "" if s.quantity is None else f"{s.quantity:g} {s.uom or ''}"
        stock.add_row(s.id, s.kind, s.location or "", qty, s.container or "")
    console.print(stock)


@app.command()
def where(
    identifier: Annotated[str, typer.Argument(help="Any GS1 form or URI.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Where an object is now: status, disposition, location, containers, last event."""
    from threadline.genealogy import where as where_now

    result = _answer(db, as_json, lambda reader: where_now(reader, identifier))
    if result is None:
        return
    table = Table(show_header=False, title=result.id)
    for name, value in result.to_dict().items():
        if name == "id" or value in (None, [], {}):
            continue
        shown = json.dumps(value) if isinstance(value, dict | list) else str(value)
        table.add_row(name, shown)
    console.print(table)


@app.command()
def window(
    equipment: Annotated[str, typer.Option("--equipment", help="Read point (or SGLN extension).")],
    start: Annotated[str, typer.Option("--from", help="ISO-8601 start (inclusive).")],
    end: Annotated[str, typer.Option("--to", help="ISO-8601 end (exclusive).")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Lots produced or processed at a machine in a time window."""
    from threadline.genealogy import window as process_window

    result = _answer(db, as_json, lambda reader: process_window(reader, equipment, start, end))
    if result is None:
        return
    table = Table(title=f"{result.equipment} {result.start} .. {result.end}")
    for col in ("time", "object", "role", "quantity", "bizStep"):
        table.add_column(col, overflow="fold")
    for lot in result.lots:
        qty = "" if lot.quantity is None else f"{lot.quantity:g} {lot.uom or ''}"
        table.add_row(lot.time, lot.id, lot.role, qty, lot.biz_step or "")
    console.print(table)
    console.print(f"{result.events} events, {len(result.lots)} objects")


# -- EPCIS queries and export -------------------------------------------------------------------

ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        help="EPCIS query parameter NAME=VALUE, e.g. EQ_bizStep=shipping (repeat for more; "
        "values of one name separated by | or , are alternatives).",
        show_default=False,
    ),
]
EpcFormatOption = Annotated[
    str,
    typer.Option("--epc-format", help="Write GS1 keys as urn, dl (Digital Link) or as_captured."),
]


def _query_params(raw: list[str] | None) -> list[tuple[str, str]]:
    from threadline.errors import InvalidInput

    out: list[tuple[str, str]] = []
    for item in raw or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            _fail(InvalidInput(f"--param {item!r}: write NAME=VALUE, e.g. EQ_bizStep=shipping"))
        out.append((name.strip(), value))
    return out


def _choice(option: str, value: str, allowed: tuple[str, ...]) -> str:
    from threadline.errors import InvalidInput

    if value not in allowed:
        _fail(InvalidInput(f"{option} {value!r}: use one of {', '.join(allowed)}"))
    return value


def _query_document(
    make: Callable[..., Any], params: list[str] | None, fmt: str, epc_format: str, db: str | None
) -> Any:
    """Run ``make(store, params, fmt=, epc_format=)`` (events or export) with checked options."""
    pairs = _query_params(params)
    out_format = _choice("--format", fmt, ("jsonld", "xml"))
    form = _choice("--epc-format", epc_format, ("urn", "dl", "as_captured"))
    with _store(db) as store:
        return _run(lambda: make(store, pairs, fmt=out_format, epc_format=form))


@app.command()
def events(
    params: ParamOption = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonld or xml.")] = "jsonld",
    epc_format: EpcFormatOption = "as_captured",
    db: DbOption = None,
) -> None:
    """Query events (EPCIS SimpleEventQuery) and print the EPCISQueryDocument."""
    from threadline.service import events_document

    out = _query_document(events_document, params, fmt, epc_format, db)
    sys.stdout.buffer.write(out.data)
    sys.stdout.flush()
    if out.next_page_token:
        err_console.print(
            f"{out.events} events; more match: add --param nextPageToken={out.next_page_token}",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def export(
    fmt: Annotated[str, typer.Option("--format", help="jsonld or xml.", show_default=False)],
    params: ParamOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to FILE instead of standard output."),
    ] = None,
    epc_format: EpcFormatOption = "as_captured",
    db: DbOption = None,
) -> None:
    """Export events (all, or those matching --param filters) as one EPCISDocument."""
    from threadline.errors import InvalidInput
    from threadline.service import export_document

    out = _query_document(export_document, params, fmt, epc_format, db)
    if output is None:
        sys.stdout.buffer.write(out.data)
        sys.stdout.flush()
    else:
        try:
            output.write_bytes(out.data)
        except OSError as exc:
            _fail(InvalidInput(f"cannot write {output}: {exc.strerror}"))
        err_console.print(f"{out.events} events written to {output}", highlight=False)
    if out.next_page_token:
        err_console.print(
            f"more events match: add --param nextPageToken={out.next_page_token}",
            highlight=False,
            soft_wrap=True,
        )


# -- demo and bench ----------------------------------------------------------------------------


@app.command()
def demo(
    scale: Annotated[str, typer.Option(help="small | medium | large")] = "small",
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same plant.")] = 7,
    db: DbOption = None,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Stop after the tour instead of serving the API.")
    ] = False,
) -> None:
    """Build a demo fastener plant, print a short tour, then serve the API (until Ctrl-C)."""
    from threadline.demo import build_demo, tour

    with _store(db) as store, _progress() as progress:
        task = progress.add_task(f"demo plant ({scale})", total=None)
        plant, result, seconds = _run(
            lambda: build_demo(
                store,
                scale=scale,
                seed=seed,
                on_start=lambda n: progress.update(task, total=n),
                progress=lambda n: progress.advance(task, n),
            )
        )
        counts = store.counts()
    console.print(tour(plant, result, counts, seconds, db=db), soft_wrap=True)
    if not no_serve:
        from threadline.cli_service import serve_demo

        serve_demo(db, example_id=plant.highlights.shipped_box)


@app.command()
def bench(
    scale: Annotated[str, typer.Option(help="small | medium | large")] = "medium",
    seed: Annotated[int, typer.Option(help="Plant seed.")] = 7,
    workdir: Annotated[
        Path, typer.Option(help="Where benchmark databases are built and kept for reuse.")
    ] = Path("bench-data"),
    repeat: Annotated[int, typer.Option(help="Trace samples per measurement.")] = 200,
    capture_events: Annotated[
        int, typer.Option(help="Events POSTed by the durable-capture measurement.")
    ] = 20_000,
    postgres: Annotated[
        str | None,
        typer.Option(help="Also measure durable capture on this PostgreSQL URL (it is written)."),
    ] = None,
    only: Annotated[
        str | None,
        typer.Option(help="Comma-separated sections: trace, import, capture, readings, pages."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Measure the performance budgets (trace, recall, bulk import, durable capture, readings,
    page times) against baselines."""
    from threadline.bench import SECTIONS, run_bench

    sections = frozenset(s.strip() for s in only.split(",") if s.strip()) if only else None

    report = _run(
        lambda: run_bench(
            scale=scale,
            seed=seed,
            workdir=workdir,
            repeat=repeat,
            console=err_console,
            capture_events=capture_events,
            postgres=postgres,
            only=sections or frozenset(SECTIONS),
        )
    )
    if as_json:
        _print_json(report)
        return
    table = Table(title=f"threadline bench --scale {scale}")
    for col in ("measure", "value", "budget", "baseline", "ratio", "ok"):
        table.add_column(col, overflow="fold")
    for row in report["results"]:
        table.add_row(
            row["name"],
            row["value_text"],
            row.get("budget_text", ""),
            row.get("baseline_text", ""),
            row.get("ratio_text", ""),
            {True: "yes", False: "NO", None: ""}[row.get("ok")],
        )
    console.print(table)
    console.print(report["machine"])


# -- labels --------------------------------------------------------------------------------------


@app.command()
def label(
    ids: Annotated[
        list[str],
        typer.Argument(help="Lot, box or pallet ids (any GS1 form); several need a PDF."),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write ('-' for standard output).")
    ],
    symbology: Annotated[
        str, typer.Option(help="qr (GS1 Digital Link URI), datamatrix or gs1-128.")
    ] = "qr",
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="png, svg or pdf (100 x 150 mm label); default: the -o suffix, else png.",
            show_default=False,
        ),
    ] = None,
    sheet: Annotated[
        bool, typer.Option("--sheet", help="An A4 sheet of small box labels (PDF), one per id.")
    ] = False,
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            help="Resolver address QR codes point at (default: $THREADLINE_RESOLVER_BASE, "
            "else http://$THREADLINE_HOST:$THREADLINE_PORT).",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Print labels: QR (GS1 Digital Link), GS1 DataMatrix or GS1-128, as PNG, SVG or PDF."""
    from threadline.config import Settings
    from threadline.labels import render_labels

    settings = _run(lambda: Settings.from_env(db=db))
    suffix = output.suffix.lower().lstrip(".")
    chosen = fmt or ("pdf" if sheet else suffix if suffix in ("png", "svg", "pdf") else "png")
    resolver = (base or settings.resolver_base or f"http://{settings.host}:{settings.port}").rstrip(
        "/"
    )
    with _store(db) as store, store.reader() as reader:
        rendered = _run(
            lambda: render_labels(
                reader, ids, symbology=symbology, fmt=chosen, base=resolver, sheet=sheet
            )
        )
    if str(output) == "-":
        sys.stdout.buffer.write(rendered.body)
        sys.stdout.flush()
    else:
        output.write_bytes(rendered.body)
    count = len(rendered.labels)
    err_console.print(
        f"{count} label{'s' if count != 1 else ''} ({symbology}, {chosen}, "
        f"{len(rendered.body):,} bytes) -> {output}",
        highlight=False,
    )


def main() -> None:
    """Entry point of the ``threadline`` console script."""
    app()


# The service's commands (serve, users, tokens, audit, backup, restore) and the shop floor's
# (scan, stations, ingest, readings) register themselves on `app`; imported last because they
# build on the helpers above.
from threadline import cli_ingest, cli_quality, cli_service  # noqa: E402, F401
