"""funchost's HTTP app served by granian instead of uvicorn (a benchmark row, not a product path).

``FUNCHOST_BENCH_APP`` names the function app folder; the host instance is loaded at import, as
``funchost start`` loads it, and granian serves its ASGI app.
"""

import os
from pathlib import Path

from funchost.host.instance import HostInstance
from funchost.host.options import HostOptions

instance = HostInstance(HostOptions(script_root=Path(os.environ["FUNCHOST_BENCH_APP"])))
instance.load()
app = instance.http_app
