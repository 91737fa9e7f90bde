"""The service's commands: ``serve``, ``users``, ``tokens``, ``audit``, ``backup``, ``restore``.

Registered on the main ``threadline`` app by :mod:`threadline.cli` (which imports this module at
its end), sharing its options and error handling. Changes made here to users and tokens are
written to the audit log as made by ``cli:<login name>`` from ``local``.
"""

from __future__ import annotations

import getpass
import secrets
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import typer
from rich.table import Table

from threadline.cli import (
    DbOption,
    JsonOption,
    _fail,
    _print_json,
    _progress,
    _run,
    _store,
    app,
    console,
    err_console,
)
from threadline.config import Settings
from threadline.errors import Conflict, InvalidInput, ThreadlineError
from threadline.store.base import Store

users_app = typer.Typer(
    help="People and their roles (viewer, operator, quality, admin).", no_args_is_help=True
)
tokens_app = typer.Typer(
    help="API tokens for machines (Authorization: Bearer).", no_args_is_help=True
)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")

DEMO_USER = "demo"


def _settings(db: str | None) -> Settings:
    return _run(lambda: Settings.from_env(db=db))


def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        return "cli"


def _audit(store: Store, action: str, target: str, detail: str | None = None) -> None:
    from threadline.store import audit

    audit.record(
        store,
        action=action,
        outcome="ok",
        actor=_cli_actor(),
        target=target,
        address="local",
        detail=detail,
    )


# -- serve ---------------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[
        str | None,
        typer.Option(
            help="Address to listen on (default: $THREADLINE_HOST or "
            "127.0.0.1; 0.0.0.0 for every interface).",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="Port (default: $THREADLINE_PORT or 8000).", show_default=False),
    ] = None,
    db: DbOption = None,
) -> None:
    """Serve the HTTP API (traceability, users, audit) until Ctrl-C."""
    from threadline.api.server import serve as run_server

    settings = _settings(db)
    settings = replace(
        settings,
        host=host if host is not None else settings.host,
        port=port if port is not None else settings.port,
    )

    def listening(address: str) -> None:
        console.print(
            f"Threadline serving {settings.db} on {address} (Ctrl-C to stop)",
            highlight=False,
            soft_wrap=True,
        )
        sys.stdout.flush()

    _run(lambda: run_server(settings, on_listening=listening))


def serve_demo(db: str | None, *, example_id: str | None = None) -> None:
    """After ``threadline demo``: a demo admin with a fresh password, then serve."""
    from threadline.api.server import address, bind
    from threadline.api.server import serve as run_server
    from threadline.store.auth import Role, add_user, set_password

    settings = _settings(db)
    password = secrets.token_urlsafe(12)
    with _store(db) as store:
        try:
            add_user(store, name=DEMO_USER, role=Role.admin, password=password)
        except Conflict:
            set_password(store, name=DEMO_USER, password=password)
        _audit(store, "users demo", DEMO_USER, "demo admin with a new password")
    try:
        sock = bind(settings.host, settings.port)
    except InvalidInput:
        sock = bind(settings.host, 0)  # the demo takes any free port rather than failing
    url = address(sock)
    lines = [
        "",
        f"[bold]Threadline is serving the demo plant on {url}[/] (Ctrl-C to stop)",
        f"  log in as name '{DEMO_USER}', password '{password}' (role admin; a new password "
        "each time the demo starts)",
        f"  # in a browser (a phone on the same network too): {url}/login",
        "  # from a shell: log in once, then ask the same questions over HTTP",
        f"  curl -c cookies.txt -d name={DEMO_USER} -d password='{password}' {url}/auth/login",
        f"  curl -b cookies.txt '{url}/trace/backward?id={quote(example_id or '...', safe=':')}'",
    ]
    console.print("\n".join(lines), highlight=False, soft_wrap=True)
    sys.stdout.flush()
    _run(lambda: run_server(settings, sock=sock))


# -- users and tokens ----------------------------------------------------------------------------


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
]


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="viewer | operator | quality | admin")],
    password_stdin: PasswordStdin = False,
    db: DbOption = None,
) -> None:
    """Add a user (argon2-hashed password from a prompt or stdin)."""
    from threadline.store.auth import Role, add_user

    parsed = _run(lambda: Role.parse(role))
    password = _read_password(password_stdin)
    with _store(db) as store:
        user = _run(lambda: add_user(store, name=name, role=parsed, password=password))
        _audit(store, "users add", user.name, f"role {user.role.name}")
    console.print(f"added {user.name} ({user.role.name})", highlight=False)


@users_app.command("password")
def users_password(
    name: Annotated[str, typer.Argument(help="Login name.")],
    password_stdin: PasswordStdin = False,
    db: DbOption = None,
) -> None:
    """Set a user's password (their open sessions end)."""
    from threadline.store.auth import set_password

    password = _read_password(password_stdin)
    with _store(db) as store:
        _run(lambda: set_password(store, name=name, password=password))
        _audit(store, "users password", name)
    console.print(f"password of {name} changed", highlight=False)


@users_app.command("list")
def users_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Every user with role and state."""
    from threadline.store.auth import list_users

    with _store(db, as_json=as_json) as store:
        users = _run(lambda: list_users(store), as_json=as_json)
    if as_json:
        _print_json([u.to_dict() for u in users])
        return
    table = Table(title="users")
    for col in ("name", "role", "state", "created"):
        table.add_column(col)
    for u in users:
        table.add_row(u.name, u.role.name, "disabled" if u.disabled else "active", u.created)
    console.print(table)


@users_app.command("disable")
def users_disable(
    name: Annotated[str, typer.Argument(help="Login name.")], db: DbOption = None
) -> None:
    """Disable a user: their sessions end at once and their tokens stop working."""
    from threadline.store.auth import disable_user

    with _store(db) as store:
        _run(lambda: disable_user(store, name=name))
        _audit(store, "users disable", name)
    console.print(f"disabled {name}", highlight=False)


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="The user the token acts as.")],
    label: Annotated[str | None, typer.Option(help="What the token is for.")] = None,
    db: DbOption = None,
) -> None:
    """Create an API token; it is printed once (alone on stdout) and stored only as a hash."""
    from threadline.store.auth import create_token

    with _store(db) as store:
        token, secret = _run(lambda: create_token(store, name=name, label=label))
        _audit(store, "tokens create", f"token {token.id} of {token.user}", label)
    err_console.print(
        f"token {token.id} for {token.user}"
        + (f" ({label})" if label else "")
        + ": shown once, keep it safe",
        highlight=False,
    )
    print(secret)


@tokens_app.command("list")
def tokens_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Every token: id, user, label, state (never the token itself)."""
    from threadline.store.auth import list_tokens

    with _store(db, as_json=as_json) as store:
        tokens = _run(lambda: list_tokens(store), as_json=as_json)
    if as_json:
        _print_json([t.to_dict() for t in tokens])
        return
    table = Table(title="tokens")
    for col in ("id", "user", "label", "starts", "created", "revoked"):
        table.add_column(col)
    for t in tokens:
        table.add_row(
            str(t.id), t.user, t.label or "", t.prefix + "...", t.created, t.revoked or ""
        )
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(metavar="ID", help="Token id (tokens list).")],
    db: DbOption = None,
) -> None:
    """Revoke a token for good."""
    from threadline.store.auth import revoke_token

    with _store(db) as store:
        token = _run(lambda: revoke_token(store, token_id=token_id))
        _audit(store, "tokens revoke", f"token {token.id} of {token.user}")
    console.print(f"revoked token {token.id} of {token.user}", highlight=False)


# -- audit ---------------------------------------------------------------------------------------


@app.command("audit")
def audit_list(
    since: Annotated[
        str | None, typer.Option(help="Only entries at or after this ISO-8601 time.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the newest N entries.", min=1)] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The audit log: logins, refusals and writes, oldest first."""
    from threadline.store import audit

    start = _run(lambda: audit.parse_since(since), as_json=as_json) if since else None
    with _store(db, as_json=as_json) as store:
        rows = _run(lambda: audit.entries(store, since=start, limit=limit), as_json=as_json)
    if as_json:
        _print_json([r.to_dict() for r in rows])
        return
    table = Table(title="audit log")
    for col in ("time", "actor", "role", "action", "target", "outcome", "from"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r.time,
            r.actor or "",
            r.role or "",
            r.action,
            r.target or "",
            r.outcome,
            r.address or "",
        )
    console.print(table)
    console.print(f"{len(rows)} entries")


# -- backup and restore --------------------------------------------------------------------------


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(help="Where to write the backup.")],
    db: DbOption = None,
) -> None:
    """Back up the store, consistently even while the server writes.

    SQLite: a copy of the database file (online backup API). PostgreSQL: one snapshot of every
    table as gzip'd JSON lines.
    """
    from threadline.store.backup import backup as make_backup

    with _store(db) as store:
        report = _run(lambda: make_backup(store, file))
    console.print(
        f"backed up {report.rows:,} rows of {len(report.tables)} tables (schema "
        f"{report.revision}) to {report.path} ({report.form}) in {report.seconds:.1f} s",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="A backup made by `threadline backup`.")],
    db: DbOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace everything in a non-empty store.")
    ] = False,
) -> None:
    """Restore a backup into an empty store (stop the server first)."""
    from threadline.store.backup import restore as load_backup

    with _progress() as progress:
        task = progress.add_task("restore", total=None)
        try:
            report = load_backup(
                file,
                db,
                force=force,
                on_start=lambda n: progress.update(task, total=n),
                progress=lambda n: progress.advance(task, n),
            )
        except ThreadlineError as exc:
            _fail(exc)
            raise
    console.print(
        f"restored {report.rows:,} rows of {len(report.tables)} tables from {report.path} "
        f"({report.form}, schema {report.revision}) in {report.seconds:.1f} s",
        highlight=False,
        soft_wrap=True,
    )
