"""Helper the statement-circuit tests share: a template's declared public inputs.

``declared_public_inputs`` reads a template's public inputs from its source,
so a test can compare them with the statement module's ``PUBLIC`` list.
(Witness and tampering helpers: ``tests/circuits/conftest.py``. Circuit tests
evaluate the R1CS of compiled circuits; real proofs of every statement are
made by the slots ledgers of tests/conftest.py and tests/exchange/.)

Test code only: never imported by library code.
"""

import re
from pathlib import Path

__all__ = ["declared_public_inputs"]


def declared_public_inputs(circuit: Path, template: str, private_marker: str) -> list[str]:
    """Names of the ``signal input``s of ``template`` in ``circuit`` declared before the
    comment ``private_marker`` (the public inputs, in declaration order)."""
    body = circuit.read_text().split(f"template {template}(", 1)[1]
    return re.findall(r"signal input (\w+)", body.split(private_marker, 1)[0])
