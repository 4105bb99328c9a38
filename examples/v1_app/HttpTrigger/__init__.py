import logging

import azure.functions as func

from shared_code import my_first_helper_function  # absolute: the app root is on sys.path

from . import example  # relative: the function folder is a package
from ..shared_code import my_second_helper_function  # relative, through the __app__ package


def main(req: func.HttpRequest) -> func.HttpResponse:
    logging.info("Python HTTP trigger function processed a request.")

    name = req.params.get("name")
    if not name:
        try:
            req_body = req.get_json()
        except ValueError:
            pass
        else:
            name = req_body.get("name")

    if name:
        text = my_first_helper_function.greeting(name) + example.SUFFIX
        if req.params.get("loud"):
            text = my_second_helper_function.shout(text)
        return func.HttpResponse(text)
    return func.HttpResponse(
        "Pass a name in the query string or in the request body for a personalized response.",
        status_code=200,
    )
