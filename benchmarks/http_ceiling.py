"""The HTTP ceiling for order intake: the same route and models, no exchange work.

``app`` serves ``POST /v1/orders`` with darkpool's own request and response
models (``SubmitOrderRequest`` -> ``OrderAccepted``, status 202) and does
nothing else: no decryption, signature check, ledger entry or commit. Run by
``benchmarks.intake`` in one uvicorn worker, as ``darkpool serve`` is, and
driven by the same clients, it gives the requests/s that FastAPI + uvicorn +
the clients themselves allow on this machine: the most any per-order intake
can reach with one order per request. Not used by the exchange.
"""

from fastapi import FastAPI

from exchange.models import OrderAccepted, SubmitOrderRequest

app = FastAPI()


@app.get("/v1/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/v1/orders", response_model=OrderAccepted, status_code=202)
def submit_order(body: SubmitOrderRequest) -> OrderAccepted:
    return OrderAccepted(commitment=body.commitment, status="listed", order_index=None)
