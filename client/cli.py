"""``darkpool trader``: a trader's command line over the REST API (``client.sdk``).

Commands: ``keygen``, ``open``, ``deposit``, ``withdraw``, ``order``, ``cancel``,
``status`` and ``verify-inclusion``. The trader's Baby Jubjub (EdDSA-Poseidon)
key lives in a JSON key file created with mode 0600; ``open`` stores the
server URL and the account index in a small profile next to it
(``KEYFILE.profile.json``), so later commands need only ``--key``. Orders are
signed, sealed to the operator's key and submitted by the SDK; the inclusion
path is verified locally against the root the exchange publishes.

The exchange runs the recycling-order ("slots") state (a server on another
state is refused in one line): an order takes ``--order-id`` (default: the
SDK's next id for the account, above every id the server lists for it) and
``--reduce-only``, a cancel needs only the commitment, and inclusion is
checked on the quaternary account tree.

Bad input (a missing or malformed key file, a bad URL, a bad number, a
request the API refuses) gives one line on stderr and exit code 2, never a
traceback; a failed inclusion check gives exit code 1. This module never
prints, logs or sends the key's seed.
"""

import argparse
import json
import os
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from client.sdk import ClientError, DarkpoolClient, UnsupportedExchange
from client.slots import SlotsBusy
from verifier.eddsa import PrivateKey, public_key_to_dict
from verifier.encoding import BUY, SELL
from verifier.field import R

KEY_KIND = "darkpool-eddsa-key"
PROFILE_SUFFIX = ".profile.json"
DEFAULT_TTL_S = 3_600
PROG = "darkpool trader"


class TraderError(ValueError):
    """Bad input to a trader command; the message is one line."""


# ---------------------------------------------------------------- key file and profile


def write_key(path: Path, key: PrivateKey) -> None:
    """Create ``path`` (mode 0600, never overwriting) holding the key's seed."""
    data = {
        "kind": KEY_KIND,
        "seed": key.to_bytes().hex(),
        "pubkey": public_key_to_dict(key.public_key()),
    }
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise TraderError(f"{path} already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise TraderError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
        f.write("\n")


def read_key(path: Path) -> PrivateKey:
    if not path.is_file():
        raise TraderError(
            f"key file {path} does not exist (create one with `{PROG} keygen --out {path}`)"
        )
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise TraderError(f"key file {path} is readable by others; run: chmod 600 {path}")
    try:
        obj = json.loads(path.read_text())
        if not isinstance(obj, dict) or obj.get("kind") != KEY_KIND:
            raise ValueError
        seed = bytes.fromhex(str(obj["seed"]))
        if len(seed) != 32:
            raise ValueError
    except (ValueError, KeyError, OSError):
        raise TraderError(f"{path} is not a darkpool key file") from None
    return PrivateKey(seed)


def profile_path(key_path: Path) -> Path:
    return key_path.with_name(key_path.name + PROFILE_SUFFIX)


@dataclass
class Profile:
    url: str | None = None
    account: int | None = None


def read_profile(key_path: Path) -> Profile:
    path = profile_path(key_path)
    if not path.is_file():
        return Profile()
    try:
        obj = json.loads(path.read_text())
        url = obj.get("url")
        account = obj.get("account")
        if not (url is None or isinstance(url, str)) or not (
            account is None or isinstance(account, int)
        ):
            raise ValueError
    except (ValueError, AttributeError, OSError):
        raise TraderError(f"{path} is not a trader profile") from None
    return Profile(url, account)


def write_profile(key_path: Path, profile: Profile) -> None:
    path = profile_path(key_path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"url": profile.url, "account": profile.account}) + "\n")
    tmp.replace(path)


# ---------------------------------------------------------------- parsing helpers


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TraderError(f"bad URL {url!r}: expected http(s)://host[:port]")
    return url.rstrip("/")


def positive(value: str, what: str, *, zero_ok: bool = False) -> int:
    if not value.isascii() or not value.isdigit():
        raise TraderError(f"{what} must be a whole number, got {value!r}")
    n = int(value)
    if n == 0 and not zero_ok:
        raise TraderError(f"{what} must be positive")
    if n >= R:
        raise TraderError(f"{what} is too large")
    return n


def parse_side(value: str) -> int:
    side = {"buy": BUY, "sell": SELL}.get(value.lower())
    if side is None:
        raise TraderError(f"side must be buy or sell, got {value!r}")
    return side


def market_id(info: dict[str, Any], value: str) -> int:
    markets = info["markets"]
    symbols = [str(m["symbol"]) for m in markets]
    if value.isascii() and value.isdigit() and int(value) < len(markets):
        return int(value)
    for i, s in enumerate(symbols):
        if s.lower() == value.lower():
            return i
    raise TraderError(f"unknown market {value!r} (have: {', '.join(symbols)})")


# ---------------------------------------------------------------- a session


@dataclass
class Session:
    key_path: Path
    key: PrivateKey
    profile: Profile
    client: DarkpoolClient

    @property
    def account(self) -> int:
        if self.profile.account is None:
            raise TraderError(
                f"no account for {self.key_path} yet; run `{PROG} open --key {self.key_path} "
                f"--url URL --amount N` first"
            )
        return self.profile.account


def session(args: argparse.Namespace) -> Session:
    key_path = Path(args.key)
    key = read_key(key_path)
    profile = read_profile(key_path)
    url = args.url if args.url else profile.url
    if not url:
        raise TraderError("no server URL: pass --url URL")
    return Session(key_path, key, profile, DarkpoolClient(check_url(url)))


def symbols(client: DarkpoolClient) -> list[str]:
    return [str(m["symbol"]) for m in client.info()["markets"]]


def print_order(view: dict[str, Any], names: list[str]) -> None:
    side = "buy" if view["side"] == BUY else "sell"
    index = view["order_index"]
    slotted = ""
    if view.get("order_id") is not None:
        slotted = f", id {view['order_id']}" + (", reduce-only" if view.get("reduce_only") else "")
    print(
        f"order {view['commitment']}\n"
        f"  {view['status']}: {side} {view['size']} {names[view['market']]} @ {view['limit_price']}, "
        f"filled {view['filled']}, order #{index if index is not None else '-'}{slotted}, "
        f"expires {view['expiry']}"
    )


# ---------------------------------------------------------------- commands


def cmd_keygen(args: argparse.Namespace) -> int:
    path = Path(args.out)
    key = PrivateKey.generate()
    write_key(path, key)
    pub = public_key_to_dict(key.public_key())
    print(f"wrote {path} (mode 0600)\npublic key x={pub['x']}\n           y={pub['y']}")
    return 0


def cmd_open(args: argparse.Namespace) -> int:
    amount = positive(args.amount, "amount", zero_ok=True)
    s = session(args)
    url = check_url(args.url) if args.url else s.profile.url
    if s.profile.account is not None and s.profile.url == url:
        raise TraderError(
            f"{s.key_path} already has account {s.profile.account} at {url} "
            f"({profile_path(s.key_path)})"
        )
    index = s.client.open_account(s.key, amount)
    write_profile(s.key_path, Profile(url, index))
    print(index)
    return 0


def _account_op(args: argparse.Namespace, withdraw: bool) -> int:
    """Deposit or withdraw ``args.amount``; prints the new balance and the ledger entry."""
    amount = positive(args.amount, "amount")
    s = session(args)
    op = s.client.withdraw if withdraw else s.client.deposit
    result = op(s.key, s.account, amount)
    print(
        f"account {s.account}: balance {result['balance']} (ledger entry {result['entry_index']})"
    )
    return 0


def cmd_deposit(args: argparse.Namespace) -> int:
    return _account_op(args, withdraw=False)


def cmd_withdraw(args: argparse.Namespace) -> int:
    return _account_op(args, withdraw=True)


def cmd_order(args: argparse.Namespace) -> int:
    side = parse_side(args.side)
    size = positive(args.size, "size")
    limit = positive(args.limit, "limit")
    ttl = positive(args.ttl, "ttl")
    order_id = positive(args.order_id, "order id") if args.order_id is not None else None
    s = session(args)
    market = market_id(s.client.info(), args.market)
    expiry = int(time.time()) + ttl
    try:
        result = s.client.submit_order(
            s.key,
            s.account,
            market,
            side,
            size,
            limit,
            expiry,
            order_id=order_id,
            reduce_only=args.reduce_only,
        )
    except SlotsBusy as exc:
        raise TraderError(str(exc)) from None
    index = result["order_index"]
    print(
        f"commitment {result['commitment']}\nstatus {result['status']}"
        + (f" (order #{index})" if index is not None else "")
        + (f"\norder id {result['order_id']}" if "order_id" in result else "")
    )
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    commitment = positive(args.commitment, "commitment")
    s = session(args)
    result = s.client.cancel(s.key, commitment)  # the cancel names the commitment only
    print(f"cancelled order #{result['order_index']} ({result['commitment']})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    s = session(args)
    names = symbols(s.client)
    if args.commitment is not None:
        commitment = positive(args.commitment, "commitment")
        print_order(s.client.order_status(s.key, s.account, commitment), names)
        return 0
    view = s.client.account(s.key, s.account)
    positions = ", ".join(f"{n} {p}" for n, p in zip(names, view["positions"], strict=True))
    print(f"account {view['account']}: balance {view['balance']}, nonce {view['nonce']}")
    print(f"positions: {positions}")
    print(f"orders: {len(view['orders'])}")
    for order in view["orders"]:
        print_order(order, names)
    return 0


def cmd_verify_inclusion(args: argparse.Namespace) -> int:
    root = positive(args.root, "root", zero_ok=True) if args.root is not None else None
    s = session(args)
    inclusion = s.client.inclusion(s.key, s.account, root)
    ok = s.client.check_inclusion(inclusion, s.key.public_key())
    # Without --root: against the latest root the exchange publishes, not only this answer's.
    latest = int(s.client.roots()["roots"]["account"])
    expected = latest if root is None else root
    ok = ok and int(inclusion["root"]) == expected
    opening = inclusion["opening"]
    if not ok:
        print(
            f"{PROG}: inclusion check FAILED for account {s.account} under root {expected}",
            file=sys.stderr,
        )
        return 1
    if expected != latest:
        print(
            f"note: root {expected} is not the latest account root ({latest}): this is "
            "the account as it was then, not now"
        )
    names = symbols(s.client)
    positions = ", ".join(f"{n} {p}" for n, p in zip(names, opening["positions"], strict=True))
    print(
        f"account {s.account} is included under account root {inclusion['root']}\n"
        f"  balance {opening['balance']}, positions: {positions}, nonce {opening['nonce']}"
    )
    return 0


# ---------------------------------------------------------------- wiring


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``trader`` and its subcommands to the ``darkpool`` parser's subparsers."""
    trader: argparse.ArgumentParser = sub.add_parser(
        "trader", help="trader commands: keys, account, orders, inclusion"
    )
    cmds = trader.add_subparsers(dest="trader_command", required=True, metavar="COMMAND")

    def add(name: str, func: Any, text: str, *, key: bool = True) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = cmds.add_parser(name, help=text, description=text)
        if key:
            p.add_argument("--key", required=True, metavar="KEYFILE", help="the trader's key file")
            p.add_argument("--url", help="server base URL (default: from the key's profile)")
        p.set_defaults(func=lambda a: run_command(func, a))
        return p

    p = add("keygen", cmd_keygen, "create a new EdDSA key file (mode 0600)", key=False)
    p.add_argument("--out", required=True, metavar="KEYFILE")
    p = add("open", cmd_open, "open an account; prints its index and saves it in the profile")
    p.add_argument("--amount", required=True, help="initial deposit")
    p = add("deposit", cmd_deposit, "deposit into the account")
    p.add_argument("--amount", required=True)
    p = add("withdraw", cmd_withdraw, "withdraw (signed; margin-checked in the proof)")
    p.add_argument("--amount", required=True)
    p = add("order", cmd_order, "sign, seal and submit an order")
    p.add_argument("--market", required=True, help="market id or symbol")
    p.add_argument("--side", required=True, help="buy or sell")
    p.add_argument("--size", required=True, help="lots")
    p.add_argument("--limit", required=True, help="limit price in ticks")
    p.add_argument("--ttl", default=str(DEFAULT_TTL_S), help="seconds until the order expires")
    p.add_argument(
        "--order-id",
        help="the order id (slot = id mod 4^slot_levels; default: the next free id)",
    )
    p.add_argument(
        "--reduce-only",
        action="store_true",
        help="the order may only shrink the position (never open or flip it)",
    )
    p = add("cancel", cmd_cancel, "cancel an order")
    p.add_argument("commitment")
    p = add("status", cmd_status, "account balance, positions and orders, or one order")
    p.add_argument("commitment", nargs="?")
    p = add("verify-inclusion", cmd_verify_inclusion, "check the account's leaf is in the root")
    p.add_argument("--root", help="an older published account root (default: the latest)")
    return trader


def run_command(func: Any, args: argparse.Namespace) -> int:
    """Run one command; every failure becomes one line on stderr (exit 2, or 1 from func)."""
    try:
        rc: int = func(args)
        return rc
    except TraderError as exc:
        message = str(exc)
    except ClientError as exc:
        message = f"the server refused the request: HTTP {exc.status}: {exc.detail}"
    except UnsupportedExchange as exc:
        message = str(exc)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        message = f"bad URL: {exc}"
    except httpx.HTTPError as exc:
        where = getattr(getattr(exc, "request", None), "url", None) if _has_request(exc) else None
        message = f"cannot reach the server{f' at {where}' if where else ''}: {exc}"
    except OSError as exc:
        message = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    print(f"{PROG}: {message.splitlines()[0] if message else 'failed'}", file=sys.stderr)
    return 2


def _has_request(exc: httpx.HTTPError) -> bool:
    try:
        exc.request  # noqa: B018  (raises RuntimeError when the error has no request)
    except RuntimeError:
        return False
    return True
