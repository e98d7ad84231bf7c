"""Witnesses for ACCOUNT OP (``circuits/account_op.circom``): open, deposit, withdraw.

``AccountOpWitness.build`` takes the operator's account tree, the account's
current state, the operation and (for a withdrawal) the owner's signature,
checks every rule the circuit enforces so that a bad request fails here with
a one-line ``AccountOpError`` instead of inside node, and returns the witness.
``apply`` then writes the new leaf into the tree and returns the circuit
inputs and the new root.

The state transition and the public-input layout come from
``verifier.statements.account_op``; leaves, messages and margin from
``verifier.encoding`` / ``verifier.accounting``. Nothing is re-derived here.
Pure: never runs node; ``prover.toolchain`` proves.
"""

import secrets
from dataclasses import dataclass, field
from functools import cached_property

from prover.statements.layout import named_public_inputs
from verifier import accounting
from verifier.babyjub import IDENTITY, Point
from verifier.eddsa import Signature, SignatureError, check_signature
from verifier.encoding import AccountState, to_field, withdraw_message
from verifier.field import FieldError, R
from verifier.merkle import MerkleError, MerkleTree, compute_root
from verifier.params import CircuitParams
from verifier.protocol import Tags
from verifier.statements import account_op as public
from verifier.statements.account_op import AccountOpError, OpKind

__all__ = [
    "PUBLIC",
    "TEMPLATE",
    "AccountOpError",
    "AccountOpWitness",
    "OpKind",
    "template_args",
]

TEMPLATE = "AccountOp"
PUBLIC = ["oldRoot", "newRoot", "op", "index", "amount", "pubX", "pubY", "prices", "imfBps"]


def template_args(params: CircuitParams, tags: Tags) -> list[int]:
    """AccountOp(ACC_DEPTH, M, WITHDRAW_TAG)."""
    return [params.account_depth, params.markets, tags.withdraw]


@dataclass(frozen=True)
class AccountOpWitness:
    """Everything the prover knows for one account-op proof.

    ``old`` is the account before the op (``None`` for OPEN), ``new`` after it;
    ``siblings`` is the account's Merkle path in the tree with root
    ``old_root``; ``signature`` is the owner's signature over the withdraw
    message (``None`` unless WITHDRAW). The constructor checks only shapes:
    use ``build`` to get a witness the circuit accepts (tests construct
    directly to feed the circuit witnesses it must reject).
    """

    op: OpKind
    index: int
    amount: int
    pub: Point
    old: AccountState | None
    new: AccountState
    old_root: int
    siblings: tuple[int, ...]
    prices: tuple[int, ...]
    imf_bps: tuple[int, ...]
    signature: Signature | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        markets = len(self.prices)
        if len(self.imf_bps) != markets or len(self.new.positions) != markets:
            raise AccountOpError("prices, imf_bps and positions need one entry per market")
        if self.old is not None and len(self.old.positions) != markets:
            raise AccountOpError("prices, imf_bps and positions need one entry per market")
        if (self.op is OpKind.OPEN) != (self.old is None):
            raise AccountOpError("exactly an open starts from an empty slot (old is None)")
        if (self.op is OpKind.WITHDRAW) != (self.signature is not None):
            raise AccountOpError("exactly a withdrawal carries the owner's signature")

    @classmethod
    def build(
        cls,
        tree: MerkleTree,
        op: OpKind,
        index: int,
        amount: int,
        pub: Point,
        old: AccountState | None,
        prices: tuple[int, ...],
        imf_bps: tuple[int, ...],
        tags: Tags,
        *,
        signature: Signature | None = None,
        blinding_new: int | None = None,
    ) -> "AccountOpWitness":
        """A checked witness for ``op`` on the account at ``index`` of ``tree``.

        ``old`` must be what the tree holds at ``index`` (``None`` = empty slot,
        required for OPEN). A withdrawal needs ``signature`` by ``pub`` over
        ``withdraw_message(tags.withdraw, index, amount, old.nonce)`` and must
        leave the account at or above initial margin at ``prices`` /
        ``imf_bps``. ``blinding_new`` defaults to fresh randomness.
        Raises AccountOpError (one line) for anything the circuit would reject.
        """
        kind = public.parse_op(op)
        prices = tuple(prices)
        imf_bps = tuple(imf_bps)
        blinding = secrets.randbelow(R) if blinding_new is None else blinding_new
        try:
            path = tree.path(index)
            stored = tree.get(index)
        except MerkleError as exc:
            raise AccountOpError(str(exc)) from None
        try:
            expected = 0 if old is None else old.leaf()
            new = public.apply_op(kind, old, amount, pub, blinding, len(prices))
            new.leaf()  # range-checks the new balance and positions
        except FieldError as exc:
            raise AccountOpError(f"account state out of range: {exc}") from None
        if stored != expected:
            raise AccountOpError(
                f"account slot {index} is not empty"
                if old is None
                else f"account slot {index} does not hold the given account state"
            )
        if kind is OpKind.WITHDRAW:
            if old is None or signature is None:
                raise AccountOpError("a withdrawal needs the owner's signature")
            message = withdraw_message(tags.withdraw, index, amount, old.nonce)
            try:
                check_signature(message, signature, pub)
            except (SignatureError, FieldError) as exc:
                raise AccountOpError(f"withdrawal signature rejected: {exc}") from None
            if not accounting.meets_margin(new.balance, new.positions, prices, imf_bps):
                raise AccountOpError("withdrawal would leave equity below initial margin")
        elif signature is not None:
            raise AccountOpError(f"{kind.name.lower()} takes no signature")
        witness = cls(
            op=kind,
            index=index,
            amount=amount,
            pub=pub,
            old=old,
            new=new,
            old_root=tree.root,
            siblings=path.siblings,
            prices=prices,
            imf_bps=imf_bps,
            signature=signature,
        )
        witness.public_inputs_for_depth(tree.depth)  # validates prices, imf, key, index
        return witness

    @property
    def markets(self) -> int:
        return len(self.prices)

    @cached_property
    def new_leaf(self) -> int:
        return self.new.leaf()

    @cached_property
    def new_root(self) -> int:
        return compute_root(self.new_leaf, self.index, self.siblings)

    def public_inputs_for_depth(self, account_depth: int) -> list[int]:
        return public.public_inputs(
            old_root=self.old_root,
            new_root=self.new_root,
            op=self.op,
            index=self.index,
            amount=self.amount,
            pub=self.pub,
            prices=self.prices,
            imf_bps=self.imf_bps,
            account_depth=account_depth,
        )

    def public_inputs(self) -> list[int]:
        """Public signals in circuit order (as verifier.statements.account_op computes them)."""
        return self.public_inputs_for_depth(len(self.siblings))

    def to_circuit_inputs(self) -> dict[str, object]:
        """Input JSON for the witness generator (every value reduced mod r)."""
        m = self.markets
        pub = self.public_inputs()
        # OPEN: the circuit multiplies the old fields out; pass zeros.
        old = self.old or AccountState(pub_x=0, pub_y=0, balance=0, positions=(0,) * m)
        # Deposit / open: the signature check is disabled; the identity point
        # and S = 0 keep circomlib's point arithmetic on well-defined inputs.
        r8, s = (self.signature.R8, self.signature.S) if self.signature else (IDENTITY, 0)
        return {
            **named_public_inputs(pub, PUBLIC, {"prices": m, "imfBps": m}),
            "balance": to_field(old.balance),
            "positions": [to_field(p) for p in old.positions],
            "nonce": old.nonce,
            "blindingOld": old.blinding,
            "blindingNew": self.new.blinding,
            "siblings": list(self.siblings),
            "sigR8x": r8.x,
            "sigR8y": r8.y,
            "sigS": s,
        }

    def apply(self, tree: MerkleTree) -> tuple[dict[str, object], int]:
        """Write the new leaf into ``tree`` (which must have root ``old_root``).

        Returns (circuit inputs, new root). The tree is unchanged if it is not
        at ``old_root``.
        """
        if tree.root != self.old_root or tree.path(self.index).siblings != self.siblings:
            raise AccountOpError("the account tree is not at this witness's old root and path")
        inputs = self.to_circuit_inputs()
        tree.update(self.index, self.new_leaf)
        return inputs, self.new_root
