# syntax=docker/dockerfile:1
# QHSE Platform image: one image for every service (dashboard, ingestion, vision, worker, mlflow).

# ---- build: resolve and build wheels in an isolated virtual environment ----
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends gcc libpq-dev && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md LICENSE NOTICE ./
COPY qhse ./qhse
COPY db ./db
COPY ingestion ./ingestion
COPY ml ./ml
COPY vision ./vision
COPY dashboard ./dashboard
RUN pip install --upgrade pip && pip install .

# ---- runtime: slim, non-root ----
FROM python:3.11-slim-bookworm AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 libgl1 libglib2.0-0 curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system qhse && useradd --system --gid qhse --home-dir /srv/qhse --create-home qhse
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    QHSE_DATA_DIR=/srv/qhse/data \
    QHSE_MLRUNS_DIR=/srv/qhse/mlruns
WORKDIR /srv/qhse
COPY --chown=qhse:qhse vision/models ./vision/models
COPY --chown=qhse:qhse vision/samples ./vision/samples
RUN mkdir -p /srv/qhse/data /srv/qhse/mlruns && chown -R qhse:qhse /srv/qhse
USER qhse
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=10s --start-period=40s --retries=3 CMD ["qhse", "health"]
ENTRYPOINT ["qhse"]
CMD ["dashboard", "--port", "8501"]
