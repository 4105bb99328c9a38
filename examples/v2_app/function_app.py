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


# The guide's storage examples: they run on the embedded store with no set-up.

@app.route(route="HttpExample")
@app.queue_output(arg_name="msg", queue_name="outqueue", connection="AzureWebJobsStorage")
def HttpExample(req: func.HttpRequest, msg: func.Out[func.QueueMessage]) -> func.HttpResponse:  # noqa: N802
    name = req.params.get("name")
    if name:
        msg.set(name)
        return func.HttpResponse(f"Hello, {name}. This HTTP triggered function executed successfully.")
    return func.HttpResponse("Pass a name in the query string to queue a message.", status_code=400)


@app.queue_trigger(arg_name="azqueue", queue_name="outqueue", connection="AzureWebJobsStorage")
@app.blob_output(arg_name="outputblob", path="greetings/{rand-guid}.txt", connection="AzureWebJobsStorage")
def queue_trigger(azqueue: func.QueueMessage, outputblob: func.Out[str]) -> None:
    body = azqueue.get_body().decode("utf-8")
    logging.info("Python Queue trigger processed a message: %s", body)
    outputblob.set(f"Greetings, {body}!")


@app.blob_trigger(arg_name="myblob", path="greetings/{name}", connection="AzureWebJobsStorage")
def blob_trigger(myblob: func.InputStream) -> None:
    logging.info(
        f"Python blob trigger function processed blob Name: {myblob.name} Blob Size: {myblob.length} bytes"
    )
