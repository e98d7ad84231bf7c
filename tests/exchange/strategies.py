"""Hypothesis strategies the exchange property tests share.

Test code only: never imported by library code.
"""

from hypothesis import strategies as st

from exchange.domain.markets import MarketSpec

__all__ = ["market_specs"]


@st.composite
def market_specs(
    draw: st.DrawFn, count: int, *, imf: tuple[int, int], max_fee_bps: int | None = None
) -> list[MarketSpec]:
    """``count`` markets (ids 0..count-1, lot and tick 1) with random margin fractions and fees.

    Initial margin in ``imf`` (bps, inclusive), maintenance in [1, IMF), fee in
    [0, IMF) capped at ``max_fee_bps``.
    """
    out = []
    for m in range(count):
        imf_bps = draw(st.integers(*imf))
        fee_cap = imf_bps - 1 if max_fee_bps is None else min(imf_bps - 1, max_fee_bps)
        out.append(
            MarketSpec(
                id=m,
                symbol=f"M{m}",
                lot_size=1,
                tick_size=1,
                imf_bps=imf_bps,
                mmf_bps=draw(st.integers(1, imf_bps - 1)),
                fee_bps=draw(st.integers(0, fee_cap)),
            )
        )
    return out
