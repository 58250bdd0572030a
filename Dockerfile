# Builds the same service the Makefile runs: `make run` inside the image serves Rutin on SQLite
# in /data; set RUTIN_DATABASE_URL to run it on PostgreSQL instead.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    RUTIN_DATA_DIR=/data RUTIN_HOST=0.0.0.0 RUTIN_PORT=8080
RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md Makefile ./
COPY bpmn bpmn
COPY engine engine
COPY webapp webapp
COPY workflows workflows
RUN make .venv/.installed

VOLUME /data
EXPOSE 8080
CMD ["make", "run"]
