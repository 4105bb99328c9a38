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
