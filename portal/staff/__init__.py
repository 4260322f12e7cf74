"""The staff console: one blueprint, its routes in one module per part of the console."""
from flask import Blueprint, Flask

bp = Blueprint("staff", __name__, url_prefix="/staff")


def register(app: Flask) -> None:
    """Attach every route module of the console to the blueprint, then the blueprint to the app."""
    from . import (  # noqa: F401  (routes on bp)
        access,
        acknowledgements,
        admin,
        auth,
        clients,
        fulfilment,
        inquiries,
        letters,
        navigation,
        outbox_admin,
        recipients,
        reports,
        views,
    )
    app.register_blueprint(bp)
