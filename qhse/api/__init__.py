"""The HTTP API: FastAPI on the services layer, authenticated with API tokens.

``qhse api`` runs it under uvicorn (``qhse.api.app:create_app``).  Every request carries
``Authorization: Bearer <token>`` (``qhse token create``); the token's role and sites form the
:class:`~qhse.domain.access.Scope` its queries (``db.queries.api``) and writes (``qhse.services``)
run under, so another site's ids answer 404 exactly like missing ones.  Errors are
``application/problem+json`` (RFC 9457), with the wrong field named.  Entry-point layer: it
imports services, db queries, domain and settings (and the ingestion decoder and writer for
``POST /readings``), never the CLI or the dashboard.
"""
