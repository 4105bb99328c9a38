import typing

import azure.functions as func

app = func.FunctionApp()


@app.queue_trigger(arg_name="msg", queue_name="bench", connection="AzureWebJobsStorage")
def noop(msg: func.QueueMessage) -> None:
    pass


@app.blob_trigger(arg_name="blob", path="bench-in/{name}", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="seen", queue_name="bench-blob-seen", connection="AzureWebJobsStorage")
def on_blob(blob: func.InputStream, seen: func.Out[str]) -> None:
    seen.set(blob.name)


@app.timer_trigger(schedule="%BENCH_TIMER%", arg_name="timer", run_on_startup=False)
def tick(timer: func.TimerRequest) -> None:
    import logging
    from datetime import datetime, timezone

    logging.warning("tick-at %s", datetime.now(timezone.utc).isoformat())


@app.service_bus_queue_trigger(arg_name="msg", queue_name="bench-sb", connection="ServiceBusConnection")
def sb_noop(msg: func.ServiceBusMessage) -> None:
    pass


@app.event_hub_message_trigger(
    arg_name="events", event_hub_name="bench-hub", connection="EventHubConnection", cardinality="many"
)
def hub_noop(events: typing.List[func.EventHubEvent]) -> None:  # noqa: UP006 - the library refuses list[...]
    pass
