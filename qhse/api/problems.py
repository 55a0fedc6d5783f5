"""Errors as ``application/problem+json`` (RFC 9457): type, title, status, detail and the wrong field."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

MEDIA_TYPE = "application/problem+json"
TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
          409: "Conflict", 413: "Payload too large", 415: "Unsupported media type", 422: "Unprocessable content",
          500: "Internal server error"}


class FieldError(BaseModel):
    field: str = Field(description="Where the error is: body.readings.3.value, query.limit, path.hazard_id, ...")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field("about:blank", description="A URI naming the kind of problem")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    field: str | None = Field(None, description="The first wrong field, when the problem is about one")
    errors: list[FieldError] | None = None


class ApiProblem(Exception):
    """Raised by a route: turned into a problem document."""

    def __init__(self, status: int, detail: str, *, field: str | None = None, kind: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.field, self.kind, self.headers = status, detail, field, kind, headers


def problem(status: int, detail: str | None = None, *, field: str | None = None, kind: str | None = None,
            errors: list[dict] | None = None, instance: str | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": f"/problems/{kind}" if kind else "about:blank",
                            "title": TITLES.get(status, "Error"), "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if field:
        body["field"] = field
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _loc(loc) -> str:
    return ".".join(str(p) for p in loc)


async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{"field": _loc(e.get("loc", ())), "message": str(e.get("msg", "invalid"))} for e in exc.errors()]
    first = errors[0] if errors else {"field": None, "message": "invalid request"}
    return problem(422, f"{first['field']}: {first['message']}" if first["field"] else first["message"],
                   field=first["field"], kind="validation", errors=errors, instance=request.url.path)


async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return problem(exc.status_code, str(exc.detail) if exc.detail else None, instance=request.url.path,
                   headers=getattr(exc, "headers", None))


async def on_problem(request: Request, exc: ApiProblem) -> JSONResponse:
    return problem(exc.status, exc.detail, field=exc.field, kind=exc.kind, instance=request.url.path,
                   headers=exc.headers)


async def on_error(request: Request, exc: Exception) -> JSONResponse:
    import logging

    logging.getLogger("qhse.api").exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "internal error (logged on the server)", instance=request.url.path)
