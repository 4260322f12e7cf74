"""The baseline for benchmarks/consent_api.py: a bare Flask app with one "hello" route."""
from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello():
    return "Hello, World!"
