"""User and API-token management (admin only); the CLI's ``users`` and ``tokens`` over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from threadline.api.deps import Admin, ServicesDep, audit_request
from threadline.api.responses import JSONBody
from threadline.store.auth import (
    MIN_PASSWORD,
    Role,
    add_user,
    create_token,
    disable_user,
    list_tokens,
    list_users,
    revoke_token,
)

router = APIRouter(tags=["users"])

RoleName = Annotated[str, Field(pattern="^(viewer|operator|quality|admin)$")]


class UserCreate(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    role: RoleName
    password: Annotated[str, Field(min_length=MIN_PASSWORD, max_length=1000)]


class TokenCreate(BaseModel):
    user: Annotated[str, Field(min_length=1, max_length=64)]
    label: Annotated[str | None, Field(max_length=200)] = None


# What the answers hold (documentation: the handlers serialise the store's own to_dict()).
class User(BaseModel):
    id: int
    name: str
    role: RoleName
    disabled: bool
    created: str = Field(description="ISO-8601 UTC time")


class Token(BaseModel):
    id: int
    user: str
    label: str | None
    prefix: str = Field(description="The first characters of the token, to recognise it by")
    created: str
    revoked: str | None = Field(description="When it was revoked; null while it is valid")


class NewToken(Token):
    token: str = Field(description="The API token itself: shown in this answer only")


@router.get("/users", summary="Every user with role and state", response_model=list[User])
def users(services: ServicesDep, _caller: Admin) -> JSONBody:
    return JSONBody([u.to_dict() for u in list_users(services.store)])


@router.post(
    "/users",
    summary="Create a user",
    status_code=201,
    response_model=User,
    responses={
        400: {"description": "The name or password breaks a rule (it is named)"},
        409: {"description": "A user of this name exists"},
    },
)
def create_user(
    request: Request, services: ServicesDep, caller: Admin, body: UserCreate
) -> JSONBody:
    user = add_user(
        services.store, name=body.name, role=Role.parse(body.role), password=body.password
    )
    audit_request(
        request,
        services,
        action="users add",
        outcome="ok",
        principal=caller,
        target=user.name,
        detail=f"role {user.role.name}",
    )
    return JSONBody(user.to_dict(), status_code=201)


@router.post(
    "/users/{name}/disable",
    summary="Disable a user: sessions end, tokens stop",
    response_model=User,
    responses={404: {"description": "No user of this name"}},
)
def disable(
    request: Request,
    services: ServicesDep,
    caller: Admin,
    name: Annotated[str, Path(min_length=1, max_length=64)],
) -> JSONBody:
    user = disable_user(services.store, name=name)
    audit_request(
        request, services, action="users disable", outcome="ok", principal=caller, target=name
    )
    return JSONBody(user.to_dict())


@router.get(
    "/tokens", summary="Every API token (never the token itself)", response_model=list[Token]
)
def tokens(services: ServicesDep, _caller: Admin) -> JSONBody:
    return JSONBody([t.to_dict() for t in list_tokens(services.store)])


@router.post(
    "/tokens",
    summary="Create an API token; the answer shows it once",
    status_code=201,
    response_model=NewToken,
    responses={
        404: {"description": "No user of this name"},
        409: {"description": "The user is disabled"},
    },
)
def new_token(
    request: Request, services: ServicesDep, caller: Admin, body: TokenCreate
) -> JSONBody:
    token, secret = create_token(services.store, name=body.user, label=body.label)
    audit_request(
        request,
        services,
        action="tokens create",
        outcome="ok",
        principal=caller,
        target=f"token {token.id} of {token.user}",
        detail=token.label,
    )
    return JSONBody({**token.to_dict(), "token": secret}, status_code=201)


@router.delete(
    "/tokens/{token_id}",
    summary="Revoke an API token",
    response_model=Token,
    responses={404: {"description": "No token has this id"}},
)
def revoke(
    request: Request,
    services: ServicesDep,
    caller: Admin,
    token_id: Annotated[int, Path(ge=1, le=2**62)],
) -> JSONBody:
    token = revoke_token(services.store, token_id=token_id)
    audit_request(
        request,
        services,
        action="tokens revoke",
        outcome="ok",
        principal=caller,
        target=f"token {token.id} of {token.user}",
    )
    return JSONBody(token.to_dict())
