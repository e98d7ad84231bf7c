"""Typed errors of the prover package, each carrying a one-line message.

Callers (CLI, service) print ``str(err)`` to the user; the message must stand
alone on one line, so these classes never wrap tracebacks or multi-line tool
output. This module imports nothing from the rest of the project.
"""


class ProverError(Exception):
    """Base class: anything the prover package reports to its caller."""

    def __init__(self, message: str) -> None:
        # Tool output can contain newlines; a user-facing error is one line.
        super().__init__(" ".join(message.split()))


class ToolchainError(ProverError):
    """Node/circom/snarkjs missing, or a tool run failed."""


class WitnessError(ToolchainError):
    """The witness generator rejected the inputs (a circuit assert failed, or bad input JSON)."""


class ArtifactFormatError(ProverError):
    """A .r1cs/.wtns/.ptau/.sym file is malformed or not what was expected."""


class SignalError(ProverError):
    """A signal name is unknown to the .sym file or was optimised away by the compiler."""
