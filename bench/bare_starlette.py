"""The baseline of ``api_throughput``: a bare Starlette app answering one JSON document.

It serves the same bytes the full stack serves (read from ``BENCH_BODY``), with no auth, no
store and no routing beyond one route, so the ratio measures what Upkeep's stack costs.
"""

import json
import os

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

BODY = json.loads(open(os.environ["BENCH_BODY"]).read())  # noqa: SIM115


async def configuration(request):
    return JSONResponse(BODY)


app = Starlette(routes=[Route("/{path:path}", configuration)])
