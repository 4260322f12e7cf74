"""Privacy Portal: the app factory."""
import click
from flask import Flask
from flask_login import current_user

from . import config, db, errors, formatting, i18n, input_guards, security, telemetry, web
from .extensions import babel, csrf, limiter, login_manager
from .template_languages import LanguageEnvironment


def create_app(test_config=None):
    """Build the app: configuration, extensions, blueprints, error pages, CLI."""
    instance_path = (test_config or {}).get("INSTANCE_PATH") or config.instance_path_from_env()
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True,
                template_folder="../templates", static_folder="../static")
    app.jinja_environment = LanguageEnvironment  # before anything builds app.jinja_env
    config.load(app, test_config)
    input_guards.register(app)
    check_policy(app)
    register_extensions(app)
    check_keys(app)
    register_status_listeners(app)
    register_blueprints(app)
    errors.register(app)
    formatting.register(app)
    i18n.register(app)
    security.register(app)
    web.register(app)
    telemetry.register(app)  # outermost: request ids and metrics cover everything below
    register_cli(app)
    register_first_run_warnings(app)
    return app


def register_first_run_warnings(app):
    """Log the first-run checklist's placeholders once per process, at its first request (a web
    process started by `flask run` or gunicorn); tests build many apps and skip it."""
    if app.testing:
        return
    import threading
    done = threading.Event()

    @app.before_request
    def _first_run_warnings():
        if done.is_set():
            return
        done.set()
        from .services.checklist import placeholders
        try:
            with db.read_session() as reader:  # never the request's session: it would hold a write lock
                placeholders.log_warnings(reader)
        except Exception:  # noqa: BLE001  a warning must never fail the request it rides on
            app.logger.exception("the first-run checklist could not be read")


def check_policy(app):
    """Refuse to start when the consent categories and the privacy policy disagree about selling."""
    from . import policy
    with app.app_context():
        policy.check_agreement()


def check_keys(app):
    """Refuse to start when the database holds data made with keys this process does not have."""
    from .services.documents import instance_keys
    cfg = app.config
    given = instance_keys.GivenKeys(
        secret_key=cfg["SECRET_KEY"], subject_hash_key=cfg["SUBJECT_HASH_KEY"],
        secret_key_fallbacks=tuple(cfg.get("SECRET_KEY_FALLBACKS") or ()), replaced=frozenset(cfg["KEYS_REPLACED"]))
    try:
        instance_keys.check(app.extensions["db_engine"], keys=cfg["ENCRYPTION_KEYS"],
                            generated=cfg["GENERATED_SECRETS"], given=given)
    except instance_keys.MissingKeys as refused:
        if click.get_current_context(silent=True) is not None:  # a flask command: the message, not a traceback
            raise click.ClickException(str(refused)) from None
        raise


def register_extensions(app):
    db.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    # Templates get the lazy `current_user` proxy rather than Flask-Login's context processor, which
    # loads the user (and checks the session's identifier) for every page, the requesters' too.
    login_manager.init_app(app, add_context_processor=False)
    app.jinja_env.globals["current_user"] = current_user
    login_manager.login_view = "staff.login"
    babel.init_app(app, locale_selector=i18n.select_locale)
    from .background import DELIVERERS
    from .services.delivery import worker
    app.extensions["mail_delivery"] = worker.BackgroundDelivery(app, deliverers=DELIVERERS)
    if app.config["MAIL_BACKGROUND_DELIVERY"]:
        # Started by the first request, so CLI commands (db upgrade, staff create) never start it.
        app.before_request(app.extensions["mail_delivery"].ensure_started)


def register_status_listeners(app):
    """What else must happen, in the same transaction, when a case's status or due date changes:
    a Data Rights Protocol agent hears of it; a verified case gets its fulfilment plan (scoped to the
    business's own data, or a client's for a client's own request) and finds the clients its person's
    data is held for; a client hears of its own request; a completed deletion erases what the portal
    itself holds about the person. And what completion (and a denial on an exemption) waits for
    beside the notices: the plan's items, an outcome for each client found."""
    from .services.cases import outcomes, portal_erasure, transitions
    from .services.clients import inbound, referrals
    from .services.drp import status as drp_status
    from .services.fulfilment import plan
    transitions.listen(app, portal_erasure.status_changed)  # §1798.105(c): what the portal holds goes too
    transitions.listen(app, drp_status.status_changed)
    transitions.listen(app, plan.status_changed)
    transitions.listen(app, referrals.status_changed)
    transitions.listen(app, inbound.status_changed)
    outcomes.register_completion_check(app, plan.blocking_completion)
    outcomes.register_completion_check(app, referrals.blocking_completion)
    outcomes.register_denial_check(app, referrals.blocking_denial)
    plan.register_scope(app, inbound.scope_of)


def register_blueprints(app):
    from . import public, staff
    from .agent.views import bp as agent
    from .clients.views import bp as clients
    from .consent.views import bp as consent
    from .drp.views import bp as drp
    from .ops.views import bp as ops
    from .processor.views import bp as processor
    public.register(app)
    app.register_blueprint(agent)
    app.register_blueprint(consent)
    staff.register(app)
    app.register_blueprint(drp)
    app.register_blueprint(ops)
    app.register_blueprint(processor)
    app.register_blueprint(clients)


def register_cli(app):
    from .cli import register
    register(app)
