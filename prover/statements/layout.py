"""The circuit input JSON of a statement's public inputs, named from the one flat list.

Every statement's public inputs come from its ``verifier.statements`` encoder
as one flat list in declaration order; the witness generator wants them by
name. ``named_public_inputs`` splits the list by the declared names (arrays
of the given sizes, scalars otherwise), so the prover never re-encodes a
public value. Pure.
"""

from collections.abc import Mapping, Sequence

__all__ = ["named_public_inputs"]


def named_public_inputs(
    pub: Sequence[int], names: Sequence[str], sizes: Mapping[str, int]
) -> dict[str, object]:
    """``{name: value}`` for the flat ``pub``: names in ``sizes`` are arrays of that many entries.

    Raises ValueError if the layout does not cover ``pub`` exactly.
    """
    named: dict[str, object] = {}
    at = 0
    for name in names:
        if name in sizes:
            named[name] = list(pub[at : at + sizes[name]])
            at += sizes[name]
        else:
            named[name] = pub[at]
            at += 1
    if at != len(pub):
        raise ValueError(f"the layout covers {at} public inputs, the statement has {len(pub)}")
    return named
