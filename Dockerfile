# asyncdb serve: the REST document API. Build: docker build -t asyncdb .
# Extras pick the providers the image can serve (server is required).
FROM python:3.11-slim

ARG EXTRAS=server,couchdb,sqlite
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY asyncdb ./asyncdb
RUN pip install ".[${EXTRAS}]" \
    && useradd --system --uid 10001 --no-create-home asyncdb \
    && mkdir /data && chown asyncdb /data

# Unconfigured, asyncdb serve keeps its documents in a SQLite file: in a volume, since /app
# is not writable by the server's user and a container's own layer is not kept.
ENV SQLITE_PATH=/data/asyncdb.sqlite3
VOLUME /data

USER asyncdb
# Listening on every interface makes ASYNCDB_API_TOKEN mandatory: asyncdb serve refuses
# to start without it (set it in .env; see .env.example and docs/serve.md).
ENV ASYNCDB_HOST=0.0.0.0 \
    ASYNCDB_PORT=8000
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:%s/healthz' % os.environ.get('ASYNCDB_PORT', '8000'), headers={'Authorization': 'Bearer ' + os.environ.get('ASYNCDB_API_TOKEN', '')}), timeout=2)"]

CMD ["asyncdb", "serve"]
