"""``darkpool oracle serve``: the oracle's HTTP API (FastAPI), a process of its own.

Routes (JSON; every refusal is a 4xx with ``{"detail": reason}``):

* ``GET /v1/oracle/info`` — exchange id, oracle domain tag, public key,
  number of markets, the skew limit and the oracle's clock;
* ``GET /v1/oracle/report?batch_id=N&at=T`` — a report for batch ``N``
  signed at the oracle's own time; 422 when ``T`` (unix seconds, the
  operator's clock) is more than the skew limit from it, 503 when the feed
  has no price.

The operator reaches it with ``oracle.client.HttpOracle``. No route ever
returns or logs the private key.
"""

from typing import Any

from fastapi import FastAPI, HTTPException, Query

from oracle.service import OracleService
from oracle.signer import OracleError
from verifier.eddsa import public_key_to_dict

__all__ = ["create_app"]


def create_app(service: OracleService) -> FastAPI:
    app = FastAPI(
        title="darkpool oracle",
        description="Signed mark-price reports from the oracle's own key and clock.",
    )
    signer = service.signer

    @app.get("/v1/oracle/info")
    def info() -> dict[str, Any]:
        return {
            "exchange_id": service.exchange_id,
            "oracle_tag": str(signer.oracle_tag),
            "public_key": public_key_to_dict(signer.public_key),
            "markets": signer.markets,
            "max_skew_s": signer.max_skew_s,
            "time": signer.now(),
        }

    @app.get("/v1/oracle/report")
    def report(
        batch_id: int = Query(ge=0, lt=1 << 63, description="the operator's batch id"),
        at: int = Query(ge=0, lt=1 << 63, description="requested time, unix seconds"),
    ) -> dict[str, Any]:
        try:
            return signer.report(batch_id, at).to_json()
        except OracleError as exc:
            status = 503 if str(exc).startswith("no price") else 422
            raise HTTPException(status, str(exc)) from None

    return app
