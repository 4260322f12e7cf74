"""gunicorn settings for the Privacy Portal behind nginx: `gunicorn --config deploy/gunicorn.conf.py wsgi:app`.

Every value can be overridden by the environment (GUNICORN_*), so the systemd unit, the container
and scripts/production-check.sh share this one file.
"""
import multiprocessing
import os

# Loopback by default: only nginx talks to gunicorn. A web host behind a proxy on another machine
# binds its private address instead (and that proxy goes in GUNICORN_FORWARDED_ALLOW_IPS).
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# nginx buffers whole requests and answers (proxy_request_buffering, proxy_buffering), so a worker
# is busy only while the app computes. About two per core, plus one.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
# Threaded workers, not sync: a sync worker tells the arbiter it is alive only between requests, so
# a long streamed answer (a 3-year §7101 records export: 15 s at 1M requests) was killed at
# `timeout` and arrived as a 200 with half a file. A gthread worker's main thread keeps telling the
# arbiter while its threads serve, so a long download completes; a second thread keeps the worker
# answering meanwhile. docs/operations.md, "Long downloads", says what bounds a stuck request now.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 2))
# A worker that stops answering the arbiter (its main loop stuck) is killed after this. Requests in
# threads are not cut by it; nginx ends a stalled answer (proxy_read_timeout, 60 s without a byte).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
# On SIGTERM (systemctl stop/restart, a deploy) workers finish the request in hand within this.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
keepalive = 5  # nginx keeps upstream connections open (keepalive in the upstream block)
# Recycle workers now and then, so slow growth in memory never builds up.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 5000))
max_requests_jitter = 500
# X-Forwarded-Proto is believed only from these addresses (the nginx host). The app reads
# X-Forwarded-For through ProxyFix with PORTAL_PROXY_FIX_X_FOR=1 (one trusted hop).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Request limits: nginx already refuses larger ones; these guard a gunicorn reached directly.
limit_request_line = 8190
limit_request_fields = 100
# Logs to stderr (journald or the container's log). The app filters tokens out of the access log.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
access_log_format = '"%(r)s" %(s)s %(b)s %(M)sms'
# The app is built in each worker (not preloaded), measured and kept so: no database connection,
# pool or key is shared across a fork, and `systemctl reload` (HUP) loads the new release's code
# (with preload_app it would fork the old code again). A worker takes 2-9 s to build (imports,
# create_app, warmup.prepare_worker: 230 templates per language); on a reload the old workers
# serve meanwhile, so nobody waits for it. Restart only when gunicorn itself or Python changed.
preload_app = False
proc_name = os.environ.get("GUNICORN_PROC_NAME", "privacy-portal")
