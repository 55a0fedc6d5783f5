#!/bin/sh
# Runs once, on the first start of an empty PostgreSQL volume (docker-entrypoint-initdb.d).
# Roles: qhse_owner owns the schema and runs migrations; qhse_app is what the services log in as
# (DML, but only SELECT and INSERT on audit_log: see migration d2b4_audit_roles).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v owner_pw="$QHSE_DB_OWNER_PASSWORD" -v app_pw="$QHSE_DB_APP_PASSWORD" <<'SQL'
CREATE ROLE qhse_owner LOGIN PASSWORD :'owner_pw';
CREATE ROLE qhse_app LOGIN PASSWORD :'app_pw';
CREATE DATABASE qhse OWNER qhse_owner;
-- MLflow keeps its runs and registry in its own database on the same server.
CREATE DATABASE qhse_mlflow OWNER qhse_owner;
\connect qhse
ALTER SCHEMA public OWNER TO qhse_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
