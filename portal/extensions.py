"""Extensions, created unbound and bound to the app in create_app()."""
from flask import current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
login_manager = LoginManager()


def configured_limit(name: str):
    """A Flask-Limiter limit read from config key `name` at request time (tests and operators change it)."""
    return lambda: current_app.config[name]
