"""moto's server with its DynamoDB requests served one at a time.

moto's `TransactWriteItems` is not isolated: on a failed condition it restores a copy of the
whole table taken when the transaction began, erasing whatever another request committed
meanwhile. Real DynamoDB never does that, so under concurrent requests moto can lose a
committed write and a test of riskflow's concurrency (ten deliveries of one webhook message at
once give exactly one 202) would fail for moto's reason, not riskflow's. This wrapper starts the
same WSGI application as `moto_server`, with the same -H/-p flags, and holds one lock around
every DynamoDB request (`X-Amz-Target: DynamoDB_20120810.*`), its response body included;
other services (Secrets Manager, moto's own API) stay concurrent.

Usage: "$VENV/bin/python" scripts/moto_serial.py -H 127.0.0.1 -p 5055
"""

import argparse
import os
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

DYNAMODB_TARGET = "DynamoDB_20120810"


class SerialiseDynamoDB:
    """WSGI middleware: one DynamoDB request at a time, whole response included."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(DYNAMODB_TARGET):
            return self.app(environ, start_response)
        with self.lock:
            result = self.app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return [body]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1", help="Which host to bind")
    parser.add_argument(
        "-p",
        "--port",
        type=int,
        default=int(os.environ.get("MOTO_PORT", 5000)),
        help="Port number to use for connection",
    )
    args = parser.parse_args(argv)
    # moto builds some answers (queue URLs, presigned links) from MOTO_PORT, as moto_server sets.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True
    run_simple(
        args.host,
        args.port,
        SerialiseDynamoDB(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
