"""The ceiling: a raw ASGI app on the same server settings funchost uses."""


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b"Hello World!"
    if scope["method"] == "POST":
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
