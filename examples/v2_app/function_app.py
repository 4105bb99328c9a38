import json
import logging

import azure.functions as func

from http_blueprint import bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(bp)


@app.route(route="hello", methods=["GET", "POST"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    logging.info("Python HTTP trigger function processed a request.")
    name = req.params.get("name")
    if not name:
        try:
            name = req.get_json().get("name")
        except ValueError:
            name = None
    if name:
        return func.HttpResponse(f"Hello, {name}. This HTTP triggered function executed successfully.")
    return func.HttpResponse(
        "This HTTP triggered function executed successfully. Pass a name in the query string "
        "or in the request body for a personalized response.",
        status_code=200,
    )


@app.function_name(name="echo")
@app.route(route="echo", methods=["POST"])
def echo_json(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.get_body(), mimetype="application/json")


@app.route(route="products/{category:alpha}/{id:int?}", auth_level=func.AuthLevel.FUNCTION)
async def products(req: func.HttpRequest) -> func.HttpResponse:
    body = {"category": req.route_params.get("category"), "id": req.route_params.get("id")}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")
