# Builds the same service the Makefile runs: `make run` inside the image serves Rutin on SQLite
# in /data; set RUTIN_DATABASE_URL to run it on PostgreSQL instead (then run `rutin worker`
# processes beside it, see README). The set-up is the Makefile's own; Node.js and npm fetch the
# pages' front-end libraries (bpmn-js, htmx) as package-lock.json pins them.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    RUTIN_DATA_DIR=/data RUTIN_HOST=0.0.0.0 RUTIN_PORT=8080
# postgresql-client: `rutin backup` and `rutin restore` run pg_dump and pg_restore on PostgreSQL.
RUN apt-get update && apt-get install -y --no-install-recommends make nodejs npm postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml requirements.lock README.md Makefile package.json package-lock.json ./
COPY bpmn bpmn
COPY engine engine
COPY webapp webapp
COPY workflows workflows
# CHROMIUM=true: the image serves Rutin; it does not run the browser tests, so no Chromium.
# LOCK=requirements.lock: the service's packages, hash-checked, without the test tools.
RUN make .venv/.installed CHROMIUM=true LOCK=requirements.lock

# /data holds the SQLite database, the session key and the audit key, public keys and checkpoint
# log. Never back it up by copying files while Rutin runs: `rutin backup DEST` (README, "Backups")
# makes a consistent copy of the database with the public keys and the log; keep the signing key
# (/data/audit/signing_key.pem) elsewhere.
VOLUME /data
EXPOSE 8080
CMD ["make", "run"]
