import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="hello", methods=["GET"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("Hello World!")


@app.route(route="echo", methods=["POST"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.get_body(), mimetype="application/json")


@app.route(route="hello_async", methods=["GET"])
async def hello_async(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("Hello World!")


@app.route(route="echo_async", methods=["POST"])
async def echo_async(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.get_body(), mimetype="application/json")
