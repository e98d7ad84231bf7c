"""``HttpOracle``: the operator's view of a remote ``darkpool oracle serve``.

It implements ``oracle.signer.Oracle`` over HTTP: the public key and domain
tag are read once from ``/v1/oracle/info`` (and must match the exchange the
operator runs), every report is fetched from ``/v1/oracle/report`` and
checked — the signature against that key, one price per market — before it is
returned. Failures raise ``OracleError`` with one line.
"""

from typing import Any

import httpx

from oracle.signer import OracleError
from verifier.babyjub import Point
from verifier.eddsa import SerializationError, public_key_from_dict
from verifier.oracle import OracleFormatError, OracleReport
from verifier.params import domain_tag

__all__ = ["HttpOracle"]


class HttpOracle:
    def __init__(
        self,
        url: str,
        *,
        exchange_id: str,
        markets: int,
        http: httpx.Client | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self._http = http if http is not None else httpx.Client(base_url=self.url, timeout=timeout)
        info = self._get("/v1/oracle/info", {})
        self._tag = domain_tag("oracle", exchange_id)
        if info.get("exchange_id") != exchange_id or info.get("oracle_tag") != str(self._tag):
            raise OracleError(
                f"the oracle at {self.url} signs for exchange {info.get('exchange_id')!r}, "
                f"not {exchange_id!r}"
            )
        if info.get("markets") != markets:
            raise OracleError(
                f"the oracle at {self.url} prices {info.get('markets')} markets, not {markets}"
            )
        try:
            self._public_key = public_key_from_dict(info["public_key"])
        except (KeyError, SerializationError, TypeError) as exc:
            raise OracleError(f"the oracle at {self.url} sent a bad public key: {exc}") from None
        self._markets = markets

    def close(self) -> None:
        self._http.close()

    @property
    def public_key(self) -> Point:
        return self._public_key

    @property
    def oracle_tag(self) -> int:
        return self._tag

    def report(self, batch_id: int, timestamp: int) -> OracleReport:
        obj = self._get("/v1/oracle/report", {"batch_id": batch_id, "at": timestamp})
        try:
            report = OracleReport.from_json(obj, self._markets)
        except OracleFormatError as exc:
            raise OracleError(f"the oracle sent a bad report: {exc}") from None
        if report.seq != batch_id:
            raise OracleError(f"the oracle answered report {report.seq}, not {batch_id}")
        if len(report.prices) != self._markets:
            raise OracleError(f"the oracle sent {len(report.prices)} prices for {self._markets}")
        if not report.verify(self._tag, self._public_key):
            raise OracleError("the oracle's report signature does not verify")
        return report

    def _get(self, path: str, params: dict[str, int]) -> dict[str, Any]:
        try:
            r = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise OracleError(f"cannot reach the oracle at {self.url}: {exc}") from None
        try:
            body = r.json()
        except ValueError:
            body = None
        if r.status_code >= 400:
            detail = body.get("detail") if isinstance(body, dict) else r.text[:200]
            raise OracleError(f"the oracle refused: HTTP {r.status_code}: {detail}")
        if not isinstance(body, dict):
            raise OracleError(f"the oracle at {self.url} did not answer with a JSON object")
        return body
