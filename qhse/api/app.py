"""The FastAPI application: routers, problem+json errors, OpenAPI 3.1 and locally served docs.

``create_app()`` is the uvicorn factory (``qhse api``); tests pass their own engine.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException

from qhse.api import plant, problems, readings, safety
from qhse.api.problems import MEDIA_TYPE, ApiProblem, FieldError, Problem
from qhse.api.schemas import ReadingBatchIn
from qhse.domain.access import AccessDenied

TITLE = "QHSE Platform API"
DESCRIPTION = """Plant safety data for the systems around the platform (MES, maintenance, environmental monitoring,
HR, regulators).  Authenticate with `Authorization: Bearer <token>` (an admin runs `qhse token create`); a
token has a role and sites like a user, and another site's ids answer 404.  Lists take `limit` and `offset`
and give `next_offset`.  Errors are `application/problem+json` (RFC 9457) with the wrong `field`."""
ERROR_CODES = ("401", "403", "404", "409", "413", "415", "422")


def _docs_assets() -> Path | None:
    """Swagger UI's own files from the swagger-ui-py wheel (nothing fetched from a CDN), if installed."""
    try:
        import swagger_ui
    except ImportError:
        return None
    d = Path(swagger_ui.__file__).parent / "static"
    return d if (d / "swagger-ui-bundle.js").is_file() else None


def create_app(engine: sa.Engine | None = None) -> FastAPI:
    if engine is None:
        from db.engine import get_engine
        from qhse.settings import get_settings

        engine = get_engine(get_settings().database_url)
    assets = _docs_assets()
    app = FastAPI(title=TITLE, version="1", description=DESCRIPTION, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json", lifespan=_lifespan)
    app.state.engine = engine
    app.state.readings = None
    app.add_exception_handler(RequestValidationError, problems.on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, problems.on_http)  # type: ignore[arg-type]
    app.add_exception_handler(ApiProblem, problems.on_problem)  # type: ignore[arg-type]
    app.add_exception_handler(AccessDenied, _on_denied)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, problems.on_error)

    @app.get("/health", tags=["meta"], summary="Liveness (no token needed)")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(plant.router)
    app.include_router(readings.router)
    app.include_router(safety.router)

    if assets is not None:
        from fastapi.openapi.docs import get_swagger_ui_html
        from fastapi.staticfiles import StaticFiles

        app.mount("/docs/assets", StaticFiles(directory=assets), name="docs-assets")

        @app.get("/docs", include_in_schema=False)
        def docs():
            return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{TITLE} docs",
                                       swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                       swagger_css_url="/docs/assets/swagger-ui.css",
                                       swagger_favicon_url="/docs/assets/favicon-32x32.png")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    yield
    if getattr(app.state, "readings", None) is not None:
        app.state.readings.close()


async def _on_denied(request, exc: AccessDenied):
    return problems.problem(403, str(exc), kind="forbidden", instance=request.url.path)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document (3.1), with every error response a problem document."""
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for model in (Problem, FieldError, ReadingBatchIn):
        js = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in js.pop("$defs", {}).items():
            schemas.setdefault(name, sub)
        schemas[model.__name__] = js
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    ref = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for path, ops in doc.get("paths", {}).items():
        for op in ops.values():
            responses = op.setdefault("responses", {})
            codes = ERROR_CODES if path != "/health" else ()
            for code in codes:
                if code in ("401", "403") and "security" not in op:
                    continue
                responses.setdefault(code, {"description": problems.TITLES[int(code)]})
            for code, r in responses.items():
                if code[0] in "45":
                    r["content"] = {MEDIA_TYPE: copy.deepcopy(ref)}
            responses.setdefault("500", {"description": "Internal server error",
                                         "content": {MEDIA_TYPE: copy.deepcopy(ref)}})
    return doc
