"""What every route needs: the engine, the caller's Scope from the bearer token, permissions, pages."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, StringConstraints

from qhse.api.problems import ApiProblem
from qhse.domain import access
from qhse.domain.access import Scope

T = TypeVar("T")
MAX_ID = 2**31 - 1  # ids are PostgreSQL integers
MAX_LIMIT = 1000

# Free text a client sends: no NUL (PostgreSQL text cannot hold it), bounded.
Code = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]
Text = Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]

bearer = HTTPBearer(auto_error=False, scheme_name="token",
                    description="An API token from `qhse token create` (role and sites like a user).")


def engine(request: Request) -> sa.Engine:
    return request.app.state.engine


def caller(request: Request, cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Scope:
    """The Scope of the request's API token; 401 for a missing, unknown, revoked or expired one."""
    from qhse.services import api_tokens

    challenge = {"WWW-Authenticate": 'Bearer realm="qhse"'}
    if cred is None or cred.scheme.lower() != "bearer":
        raise ApiProblem(401, "send an API token: 'Authorization: Bearer <token>' (qhse token create)",
                         kind="unauthorized", headers=challenge, field="header.authorization")
    scope = api_tokens.authenticate(request.app.state.engine, cred.credentials)
    if scope is None:
        raise ApiProblem(401, "the API token is unknown, revoked or expired", kind="unauthorized",
                         headers=challenge, field="header.authorization")
    request.state.scope = scope
    return scope


Caller = Annotated[Scope, Depends(caller)]
Engine = Annotated[sa.Engine, Depends(engine)]


def need(scope: Scope, permission: str, site_id: int | None = None) -> None:
    """403 unless the token's role holds ``permission`` (site ids are checked by the queries: 404)."""
    if not access.can(scope, permission):
        raise ApiProblem(403, f"role {scope.role!r} may not {permission.replace('_', ' ')}", kind="forbidden")
    if site_id is not None and not scope.allows_site(site_id):
        raise ApiProblem(404, "not found", kind="not-found")


class Paging(BaseModel):
    limit: int
    offset: int


def paging(limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page")] = 100,
           offset: Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip")] = 0) -> Paging:
    return Paging(limit=limit, offset=offset)


Page_ = Annotated[Paging, Depends(paging)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last page")


def page(rows: list[dict], p: Paging) -> dict:
    more = len(rows) > p.limit
    return {"items": rows[: p.limit], "limit": p.limit, "offset": p.offset,
            "next_offset": p.offset + p.limit if more else None}


def not_found(what: str, ident: object, field: str | None = None) -> ApiProblem:
    return ApiProblem(404, f"no {what} #{ident}", kind="not-found", field=field)
