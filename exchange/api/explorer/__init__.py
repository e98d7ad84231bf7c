"""The read-only web explorer and the trader self-check page, mounted at ``/explorer``.

``routes`` holds the pages, ``views`` turns public ledger entries into what
they show, ``charts`` draws inline SVG, ``verification`` runs the verifier's
replay on the server's own export. Templates and plain static files live next
to them; the self-check's Poseidon/EdDSA bundle is built from the pinned npm
packages by ``prover.jsbundle`` (into the cache, never committed).
"""

from exchange.api.explorer.routes import router

__all__ = ["router"]
