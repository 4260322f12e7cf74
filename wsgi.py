"""WSGI entry point: `gunicorn wsgi:app`."""
import gc

from portal import create_app
from portal.warmup import prepare_worker

app = create_app()
prepare_worker(app)

# What the app keeps for its whole life (modules, compiled templates, the URL map, SQLAlchemy's
# metadata: about 150,000 objects) is moved out of the garbage collector's sight: its full passes
# no longer walk them on every few hundred requests, about a fifth of a status page's time. Each
# request's own garbage is collected as before. (Here, not in create_app: tests build many apps.)
gc.collect()
gc.freeze()
