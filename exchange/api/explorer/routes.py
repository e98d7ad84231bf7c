"""Explorer pages under ``/explorer``: server-rendered, read-only, public data only.

Pages (every one works with JavaScript disabled except the self-check):

* ``/explorer``: overview (latest roots, counts, latest batches, latest solvency);
* ``/explorer/ledger?offset=&limit=&kind=``: every entry, newest first, paged;
* ``/explorer/ledger/{index}``: one entry (roots, marks, volume, proof status);
* ``/explorer/solvency``: solvency and stress results, pending jobs;
* ``/explorer/charts?last=``: marks and volume per market, solvency margin (inline SVG);
* ``/explorer/risk``: health sweep, liquidation, funding and deleveraging entries;
* ``/explorer/verify`` (GET shows, POST starts): the server replays its own export;
* ``/explorer/self-check``: the trader's inclusion check, run in the browser
  (quaternary account tree, 8-field leaf);
* ``/explorer/api/account-root?account=&root=`` (JSON): is a root published, and
  the account's published key (both public).

Handlers only read ``service.op.ledger`` (immutable entries) and the solvency
job table; they never take the service's state lock, never render a balance,
position, blinding, order term or key, and answer bad query values with a 400
page instead of a traceback.
"""

from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from exchange.api.deps import ServiceDep
from exchange.api.explorer import charts, views
from exchange.api.explorer.verification import VerificationRunner
from exchange.errors import Unavailable
from exchange.service import Service
from prover.errors import ToolchainError
from verifier.export import LedgerEntry
from verifier.params import BALANCE_BITS, FUNDING_BITS, NONCE_BITS, POSITION_BITS, domain_tag

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
BUNDLE_DIR = HERE / "bundle"  # entry files of the self-check's crypto bundle (prover.jsbundle)
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["num"] = views.fmt_int
templates.env.filters["short"] = views.short

PAGE_DEFAULT, PAGE_MAX = 50, 200
CHART_DEFAULT, CHART_MAX = 100, 1000


class _HtmlRoute(APIRoute):
    """Answers "the exchange is not ready" (``Unavailable``, e.g. while it sets up) with an HTML
    503 page that refreshes itself, instead of the API's JSON body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def html_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except Unavailable as exc:
                return _page(
                    request, "error.html", 503, title="Not ready", message=exc.reason, refresh=5
                )

        return html_errors


router = APIRouter(prefix="/explorer", include_in_schema=False, route_class=_HtmlRoute)


class BadQuery(Exception):
    """A query parameter the page cannot use; rendered as a 400 page."""


def _int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadQuery(f"{name} must be an integer, got {raw[:20]!r}") from None
    if not lo <= value <= hi:
        raise BadQuery(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _runner(request: Request, service: Service) -> VerificationRunner:
    runner: VerificationRunner | None = getattr(request.app.state, "explorer_verifier", None)
    if runner is None:
        runner = VerificationRunner(service.op.export, lambda: len(service.op.ledger))
        request.app.state.explorer_verifier = runner
    return runner


# Pages load scripts, styles and data only from this server and send nothing elsewhere;
# 'wasm-unsafe-eval' lets the self-check's circomlibjs compile its WebAssembly.
CSP = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def _index(request: Request, service: Service) -> tuple[Sequence[LedgerEntry], views.LedgerIndex]:
    """The ledger's entries and the app's incremental index of them."""
    index: views.LedgerIndex | None = getattr(request.app.state, "explorer_index", None)
    if index is None:
        index = views.LedgerIndex()
        request.app.state.explorer_index = index
    entries = service.op.ledger.entries
    return entries, index.update(entries)


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _error(request: Request, status: int, message: str) -> HTMLResponse:
    return _page(request, "error.html", status, title="Error", message=message)


def _common(service: Service) -> dict[str, Any]:
    entries = service.op.ledger.entries
    return {
        "exchange_id": service.op.exchange_id,
        "markets": views.markets(entries[0]),
        "entries_total": len(entries),
        "state": views.SLOTS_STATE,
    }


@router.get("", response_class=HTMLResponse)
def overview(request: Request, service: ServiceDep) -> HTMLResponse:
    entries, index = _index(request, service)
    counts = index.counts()
    solvency = views.solvency_rows([entries[i] for i in index.of_kind("solvency")[-1:]])
    latest = entries[-1]
    return _page(
        request,
        "overview.html",
        title="Overview",
        latest=views.entry_row(latest),
        latest_roots=latest.roots_after,
        counts=counts,
        batches=[views.entry_row(entries[i]) for i in index.of_kind("batch")[-5:][::-1]],
        solvency=solvency[-1] if solvency else None,
        unknown=[k for k in counts if k not in views.KNOWN_KINDS],
        **_common(service),
    )


@router.get("/ledger", response_class=HTMLResponse)
def ledger(request: Request, service: ServiceDep) -> HTMLResponse:
    entries, index = _index(request, service)
    kind = request.query_params.get("kind") or None
    try:
        limit = _int_param(request, "limit", PAGE_DEFAULT, 1, PAGE_MAX)
        offset = _int_param(request, "offset", 0, 0, 1 << 40)
    except BadQuery as exc:
        return _error(request, 400, str(exc))
    positions: Sequence[int] = index.of_kind(kind) if kind else range(len(entries))
    total = len(positions)
    if offset and offset >= total:
        return _error(request, 404, f"offset {offset} is past the end ({total} entries)")
    # newest first: the page is positions[total-1-offset] down to positions[total-offset-limit]
    chosen = positions[max(total - offset - limit, 0) : total - offset]
    page = [views.entry_row(entries[i]) for i in reversed(chosen)]
    return _page(
        request,
        "ledger.html",
        title="Ledger",
        rows=page,
        kind=kind,
        kinds=sorted(index.counts()),
        offset=offset,
        limit=limit,
        matching=total,
        newer=max(offset - limit, 0) if offset > 0 else None,
        older=offset + limit if offset + limit < total else None,
        last_offset=((total - 1) // limit) * limit if total else 0,
        **_common(service),
    )


@router.get("/ledger/{index}", response_class=HTMLResponse)
def entry(request: Request, index: str, service: ServiceDep) -> HTMLResponse:
    entries, ledger_index = _index(request, service)
    try:
        i = int(index)
    except ValueError:
        return _error(request, 400, f"entry index must be an integer, got {index[:20]!r}")
    if not 0 <= i < len(entries):
        return _error(request, 404, f"ledger entry {i} does not exist ({len(entries)} entries)")
    e = entries[i]
    order_entry = None
    if e.kind == "cancel":
        order_entry = views.find_order(
            entries, ledger_index.of_kind("order"), e.body.get("commitment"), i
        )
    return _page(
        request,
        "entry.html",
        title=f"Entry {i}",
        row=views.entry_row(e),
        # batch id and volume have their own rows
        details=[d for d in views.scalar_details(e.body) if d[0] not in ("batch_id", "volume")],
        parts=views.batch_parts(e.body) if e.kind == "batch" else [],
        order_entry=order_entry,
        solvency=views.solvency_rows([e])[0] if e.kind == "solvency" else None,
        prev=i - 1 if i > 0 else None,
        next=i + 1 if i + 1 < len(entries) else None,
        **_common(service),
    )


@router.get("/solvency", response_class=HTMLResponse)
def solvency(request: Request, service: ServiceDep) -> HTMLResponse:
    entries, index = _index(request, service)
    rows = views.solvency_rows([entries[i] for i in index.of_kind("solvency")])[::-1]
    pending = [
        {"id": j.id, "status": j.status, "shock_bps": j.shock_bps, "done": j.done, "total": j.total}
        for j in service.store.unfinished_jobs()
    ]
    return _page(
        request, "solvency.html", title="Solvency", rows=rows, pending=pending, **_common(service)
    )


@router.get("/charts", response_class=HTMLResponse)
def chart_page(request: Request, service: ServiceDep) -> HTMLResponse:
    try:
        last = _int_param(request, "last", CHART_DEFAULT, 2, CHART_MAX)
    except BadQuery as exc:
        return _error(request, 400, str(exc))
    common = _common(service)
    mkts: list[views.Market] = common["markets"]
    entries, index = _index(request, service)
    batch_positions = index.of_kind("batch")
    total_batches = len(batch_positions)
    batches = views.batch_series([entries[i] for i in batch_positions[-last:]])
    xs = [b.batch_id for b in batches]

    def column(values: list[int], m: int) -> int | None:
        return values[m] if m < len(values) else None

    mark_charts = [
        charts.line_chart(
            f"{m.symbol} mark per batch",
            xs,
            [charts.Series(f"{m.symbol} mark", [column(b.marks, m.id) for b in batches])],
        )
        for m in mkts
    ]
    volume_chart = charts.bar_chart(
        "volume (lots) per market per batch",
        xs,
        [charts.Series(m.symbol, [column(b.volume, m.id) for b in batches]) for m in mkts],
    )
    solv = views.solvency_rows([entries[i] for i in index.of_kind("solvency")[-last:]])
    margin_chart = charts.line_chart(
        "solvency margin (insurance fund - deficit) per solvency entry",
        [s.index for s in solv],
        [
            charts.Series("at marks", [s.margin if not s.stress else None for s in solv]),
            charts.Series("stress", [s.margin if s.stress else None for s in solv]),
        ],
        zero_line=True,
    )
    return _page(
        request,
        "charts.html",
        title="Charts",
        batches=batches,
        total_batches=total_batches,
        last=last,
        mark_charts=mark_charts,
        volume_chart=volume_chart,
        margin_chart=margin_chart,
        solvency=solv,
        **common,
    )


@router.get("/risk", response_class=HTMLResponse)
def risk(request: Request, service: ServiceDep) -> HTMLResponse:
    entries, index = _index(request, service)

    def of(word: str) -> list[views.EntryRow]:
        positions = sorted(i for k, ps in index.by_kind.items() if word in k for i in ps)
        return [views.entry_row(entries[i]) for i in positions[-PAGE_MAX:]]

    sections = [
        ("Health sweeps", of("sweep")),
        ("Liquidations", of("liquidat")),
        ("Funding", of("funding")),
        ("Auto-deleveraging", of("deleverag")),
    ]
    return _page(
        request,
        "risk.html",
        title="Liquidations and funding",
        sections=sections,
        **_common(service),
    )


@router.get("/verify", response_class=HTMLResponse)
def verify_page(request: Request, service: ServiceDep) -> HTMLResponse:
    runner = _runner(request, service)
    return _page(
        request,
        "verify.html",
        title="Verification",
        run=runner.latest,
        notice=request.query_params.get("notice"),
        **_common(service),
    )


@router.post("/verify")
def verify_start(request: Request, service: ServiceDep) -> RedirectResponse:
    _, new = _runner(request, service).start()
    url = request.url_for("verify_page").include_query_params(notice="started" if new else "reused")
    return RedirectResponse(str(url.path) + "?" + str(url.query), status_code=303)


@router.get("/self-check", response_class=HTMLResponse)
def self_check(request: Request, service: ServiceDep) -> HTMLResponse:
    common = _common(service)
    depth = service.op.params.account_depth
    return _page(
        request,
        "selfcheck.html",
        title="Self-check",
        auth_tag=str(domain_tag("auth", service.op.exchange_id)),
        bits={
            "balance": BALANCE_BITS,
            "position": POSITION_BITS,
            "nonce": NONCE_BITS,
            "funding": FUNDING_BITS,
        },
        # the slots account tree is quaternary: account_depth / 2 levels of 4 children
        depth=depth // 2,
        **common,
    )


@router.get("/api/account-root")
def account_root(request: Request, service: ServiceDep) -> JSONResponse:
    """Public facts for the self-check: is ``root`` a published account root; ``account``'s key."""
    entries, index = _index(request, service)
    try:
        account = int(request.query_params.get("account", ""))
        root = int(request.query_params.get("root", ""))
    except ValueError:
        return JSONResponse({"detail": "account and root must be integers"}, status_code=400)
    latest = entries[-1].roots_after.account
    opened = index.opened.get(account)
    return JSONResponse(
        {
            "root_published": root in index.account_roots,
            "entry": index.account_roots.get(root),
            "latest_account_root": str(latest),
            "is_latest": root == latest,
            "pubkey": None if opened is None else views.opened_pubkey([entries[opened]], account),
        }
    )


def crypto_bundle() -> Path:
    """Build (or find in the cache) the self-check's Poseidon/EdDSA script; ToolchainError if not."""
    from prover import jsbundle  # only the self-check needs node-built files

    return jsbundle.bundle(
        "darkpool-crypto",
        BUNDLE_DIR / "crypto_entry.mjs",
        alias={"assert": BUNDLE_DIR / "assert_shim.js"},
        inject=[BUNDLE_DIR / "node_globals.js"],
    )


@router.get("/static/darkpool-crypto.js")
def crypto_js() -> Response:
    try:
        path = crypto_bundle()
    except ToolchainError as exc:
        return Response(f"/* {exc} */", media_type="text/javascript", status_code=503)
    return FileResponse(
        path, media_type="text/javascript", headers={"Cache-Control": "max-age=3600"}
    )


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    path = STATIC_DIR / name
    if "/" in name or name.startswith(".") or not path.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    media = "text/javascript" if name.endswith(".js") else "text/css"
    return FileResponse(path, media_type=media)
