"""The API owns HTTP: one table for every domain error, and an OpenAPI spec that tells the truth.

Fast (no circuits): builds the app without starting it and reads its spec.
"""

from typing import Any

import pytest

from exchange import errors
from exchange.api.errors import ERROR_TABLE, http_error
from exchange.api.main import create_app
from exchange.core.config import Settings


def _spec(tmp_path: Any) -> dict[str, Any]:
    spec: dict[str, Any] = create_app(Settings(data_dir=tmp_path)).openapi()
    return spec


def test_every_domain_error_has_one_status() -> None:
    kinds = [
        getattr(errors, n)
        for n in errors.__all__
        if n != "DomainError" and issubclass(getattr(errors, n), errors.DomainError)
    ]
    assert set(kinds) == set(ERROR_TABLE)
    statuses = [ERROR_TABLE[k].status for k in kinds]
    assert len(set(statuses)) == len(statuses)  # one kind per status

    class Subkind(errors.NotFound):
        pass

    assert http_error(Subkind("x")).status == 404  # found through the class's bases
    assert http_error(errors.DomainError("x")).status == 500


def test_openapi_declares_every_error_with_the_real_body(tmp_path: Any) -> None:
    spec = _spec(tmp_path)
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["ErrorBody"]["required"] == ["detail"]
    assert schemas["ErrorBody"]["properties"]["detail"]["type"] == "string"
    operations = 0
    for path, item in spec["paths"].items():
        for method, op in item.items():
            operations += 1
            responses = op["responses"]
            errors_declared = [s for s in responses if s[0] in "45"]
            assert "503" in errors_declared, (method, path)
            if path != "/v1/health":
                assert "422" in errors_declared, (method, path)
            for status in errors_declared:
                schema = responses[status]["content"]["application/json"]["schema"]
                want = "Health" if path == "/v1/health" else "ErrorBody"
                assert schema == {"$ref": f"#/components/schemas/{want}"}, (method, path, status)
            if "requestBody" in op:
                assert "413" in responses, (method, path)
    assert operations >= 17


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [
        ("/v1/accounts/{account}", "get", "401"),
        ("/v1/accounts/{account}", "get", "403"),
        ("/v1/orders", "post", "409"),
        ("/v1/orders/{commitment}", "get", "400"),
        ("/v1/ledger/{index}", "get", "404"),
        ("/v1/admin/batch", "post", "409"),
    ],
)
def test_route_declares_what_it_raises(tmp_path: Any, path: str, method: str, status: str) -> None:
    assert status in _spec(tmp_path)["paths"][path][method]["responses"]


@pytest.mark.parametrize("path", ["/v1/orders", "/v1/accounts/1/deposit", "/v1/solvency"])
def test_body_limit_is_413_declared_or_streamed(tmp_path: Any, path: str) -> None:
    from fastapi.testclient import TestClient

    limit = 2048
    app = create_app(Settings(data_dir=tmp_path, max_body_bytes=limit))
    http = TestClient(app)  # no lifespan: the limit is enforced before any service work

    def chunks() -> Any:  # no Content-Length: sent chunked, the size is only seen while reading
        for _ in range(4):
            yield b"x" * 1000

    for r in (
        http.post(path, content=b"x" * (limit + 1)),
        http.post(path, content=chunks()),
    ):
        assert r.status_code == 413, r.text
        assert r.json() == {"detail": f"request body exceeds {limit} bytes"}
