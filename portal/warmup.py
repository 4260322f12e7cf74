"""A web worker's one-time work, done before it takes its first request.

Left to the first requests, it made a new worker's first status page take 85–135 ms instead of
21–28 (its templates compiled in its language, and Babel's data for that language read from
disk), while the requests queued behind it waited: after every start, restart and recycling of
a worker (gunicorn's max_requests). What remains is the worker's database connection and its
statements' compiled forms, made on first use. Called from wsgi.py, not create_app: the tests
build many apps and render few of their templates."""
from babel import localedata
from flask import Flask

from .i18n import language


def prepare_worker(app: Flask) -> int:
    """Compile every template in each of the portal's languages and load each language's data for
    dates and times; returns how many templates were compiled."""
    compiled = 0
    environment = app.jinja_env
    with app.app_context():
        for code in app.config["LANGUAGES"]:
            localedata.load(code)
            with language(code):
                overlay = environment.for_language()
                for name in environment.list_templates():
                    overlay.get_template(name)
                    compiled += 1
    return compiled
