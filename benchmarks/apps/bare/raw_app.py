"""The ceiling: a raw ASGI app on the same server settings funchost uses.

``BENCH_SPIN_US`` makes it spin that many microseconds of CPU per request: a calibration row
showing what a given in-process cost per request becomes over HTTP on the machine.
"""

import os
import time

SPIN = float(os.environ.get("BENCH_SPIN_US", "0")) / 1e6


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if SPIN:
        until = time.perf_counter() + SPIN
        while time.perf_counter() < until:
            pass
    body = b"Hello World!"
    if scope["method"] == "POST":
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
