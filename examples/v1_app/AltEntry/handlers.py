import azure.functions as func

CACHED_DATA = None


def handle(request: func.HttpRequest, response: func.Out[func.HttpResponse], context: func.Context) -> None:
    # The guide's global-state example: computed once per process, reused afterwards.
    global CACHED_DATA
    if CACHED_DATA is None:
        CACHED_DATA = {"loaded_by": context.invocation_id}
    body = f"id={request.route_params.get('id')} fn={context.function_name} first={CACHED_DATA['loaded_by']}"
    response.set(func.HttpResponse(body, status_code=200))
