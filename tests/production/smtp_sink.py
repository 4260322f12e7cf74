"""A real SMTP server (aiosmtpd) that keeps every message in a Maildir, answering each DATA after
DELAY seconds, as a busy relay would (so a worker can be killed while it waits for the "250").

usage: python -m tests.production.smtp_sink PORT MAILDIR [DELAY]
"""
import asyncio
import mailbox
import signal
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, maildir: str, delay: float):
        self.box = mailbox.Maildir(maildir, create=True)
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        self.box.add(envelope.original_content or envelope.content)
        return "250 OK"


def main() -> None:
    port, maildir = int(sys.argv[1]), sys.argv[2]
    delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    controller = Controller(Sink(maildir, delay), hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"smtp sink on 127.0.0.1:{port}", flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
