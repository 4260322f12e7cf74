"""A WSGI app that streams its answer slowly (test_long_download.py runs it under gunicorn)."""
import os
import time

CHUNKS = int(os.environ.get("SLOW_STREAM_CHUNKS", "5"))
PAUSE = float(os.environ.get("SLOW_STREAM_PAUSE", "1"))


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/csv")])

    def body():
        for i in range(CHUNKS):
            yield f"row {i}\n".encode()
            time.sleep(PAUSE)
        yield b"end\n"
    return body()
