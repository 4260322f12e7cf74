# The Privacy Portal image (web and worker): `docker build -t privacy-portal .`
# No secret is baked in: keys and settings come from the environment at run time (compose.yaml's
# env_file), the instance folder from a volume. Pin the base by digest in your own registry.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORTAL_INSTANCE_PATH=/var/lib/privacy-portal \
    GUNICORN_BIND=0.0.0.0:8000

# DejaVu Sans: printed letters set any name as written (portal/services/documents/printed.py).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core=2.37-6 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid portal --home-dir /var/lib/privacy-portal --no-create-home \
       --shell /usr/sbin/nologin portal \
    && install -d -o portal -g portal -m 0700 /var/lib/privacy-portal

WORKDIR /opt/privacy-portal
# Dependencies first (a layer that changes only with pyproject.toml), then the code. The package is
# installed in place (editable): it finds templates/, static/, translations/ and migrations/ beside it.
COPY pyproject.toml README.md ./
COPY portal ./portal
RUN pip install --no-cache-dir -e .
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY translations ./translations
COPY wsgi.py babel.cfg ./
COPY deploy/gunicorn.conf.py ./deploy/gunicorn.conf.py
RUN pybabel compile -d translations

USER 10001:10001
VOLUME ["/var/lib/privacy-portal"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
CMD ["gunicorn", "--config", "deploy/gunicorn.conf.py", "wsgi:app"]
