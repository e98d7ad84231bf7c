// An independent darkpool client: Node + circomlibjs + node:crypto, written from
// docs/wire-protocol.md only (it shares no code with the Python SDK).
//
//   node independent_client.mjs vectors VECTORS.json   recompute the document's test vectors
//   node independent_client.mjs live URL               open, deposit, read twice, replay, withdraw
//
// Prints one JSON object; exits 1 on the first mismatch or unexpected answer.
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { buildEddsa, buildPoseidon } from "circomlibjs";

const R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
const poseidon = await buildPoseidon();
const eddsa = await buildEddsa();
const F = poseidon.F;
const H = (xs) => F.toObject(poseidon(xs.map((x) => BigInt(x))));

function fail(what, got, want) {
  console.log(JSON.stringify({ ok: false, what, got: String(got), want: String(want) }));
  process.exit(1);
}
function same(what, got, want) {
  if (String(got) !== String(want)) fail(what, got, want);
}

// Domain tag: sha256 of the UTF-8 string, read as a big-endian integer, mod r.
const tag = (kind, exchangeId) =>
  BigInt("0x" + createHash("sha256").update(`darkpool/v1/${kind}/${exchangeId}`).digest("hex")) % R;

// Request digest: sha256(METHOD + " " + TARGET + "\n" + BODY), big-endian, mod r.
function digest(method, target, body) {
  const h = createHash("sha256");
  h.update(Buffer.from(`${method} ${target}\n`, "utf8"));
  h.update(body);
  return BigInt("0x" + h.digest("hex")) % R;
}

function signed(n) {
  const x = BigInt(n);
  return ((x % R) + R) % R; // negative values as r - |x|
}

function pub(seed) {
  const [x, y] = eddsa.prv2pub(seed);
  return { x: F.toObject(x).toString(), y: F.toObject(y).toString() };
}

function sign(seed, msg) {
  const s = eddsa.signPoseidon(seed, F.e(BigInt(msg)));
  return {
    json: {
      R8: { x: F.toObject(s.R8[0]).toString(), y: F.toObject(s.R8[1]).toString() },
      S: s.S.toString(),
    },
    packed_hex: Buffer.from(eddsa.packSignature(s)).toString("hex"),
  };
}

function signRequest(seed, authTag, account, method, target, body, tsMs) {
  const msg = H([authTag, account, tsMs, digest(method, target, body)]);
  return {
    "X-Darkpool-Account": String(account),
    "X-Darkpool-Timestamp": String(tsMs),
    "X-Darkpool-Signature": sign(seed, msg).packed_hex,
  };
}

function checkVectors(path) {
  const v = JSON.parse(readFileSync(path, "utf8"));
  const ex = v.exchange_id;
  for (const [kind, t] of Object.entries(v.tags)) same(`tag ${kind}`, tag(kind, ex), t.tag);
  const seed = Buffer.from(v.key.seed_hex, "hex");
  const pk = pub(seed);
  same("pubkey.x", pk.x, v.key.pubkey.x);
  same("pubkey.y", pk.y, v.key.pubkey.y);
  const authTag = tag("auth", ex);
  const o = v.open_account;
  const openMsg = H([authTag, pk.x, pk.y, o.amount, o.timestamp]);
  same("open message", openMsg, o.message);
  same("open signature", JSON.stringify(sign(seed, openMsg)), JSON.stringify(o.signature));
  for (const r of v.requests) {
    const body = Buffer.from(r.body_utf8, "utf8");
    same(`digest ${r.target}`, digest(r.method, r.target, body), r.digest_mod_r);
    const hdr = signRequest(seed, authTag, r.account, r.method, r.target, body, r.timestamp_ms);
    same(`headers ${r.method} ${r.target}`, JSON.stringify(hdr), JSON.stringify(r.headers));
  }
  const w = v.withdraw;
  same("withdraw message", H([tag("withdraw", ex), w.account, w.amount, w.nonce]), w.message);
  same("withdraw signature", JSON.stringify(sign(seed, w.message)), JSON.stringify(w.signature));
  const t = v.order.terms;
  const fields = [
    "account", "order_id", "market", "side", "size", "limit_price", "expiry", "reduce_only", "salt",
  ];
  const h = H([tag("order", ex), ...fields.map((f) => t[f])]);
  same("order commitment", h, v.order.commitment);
  const osig = sign(seed, h);
  same("order signature", JSON.stringify(osig), JSON.stringify(v.order.signature));
  const plain = JSON.stringify({ order: t, signature: osig.json });
  same("sealed-order plaintext", plain, v.order.sealed_plaintext_utf8);
  const c = v.cancel;
  same("cancel message", H([tag("cancel", ex), c.commitment]), c.message);
  same("cancel signature", JSON.stringify(sign(seed, c.message)), JSON.stringify(c.signature));
  const a = v.account_leaf;
  same("balance field", signed(a.balance), a.balance_field);
  same("positions field", a.positions.map(signed).join(","), a.positions_field.join(","));
  same("checkpoints field", a.checkpoints.map(signed).join(","), a.checkpoints_field.join(","));
  const ph = H(a.positions.map(signed));
  same("positions hash", ph, a.positions_hash);
  const ch = H(a.checkpoints.map(signed));
  same("checkpoints hash", ch, a.checkpoints_hash);
  const leaf = H([pk.x, pk.y, signed(a.balance), ph, ch, a.order_root, a.nonce, a.blinding]);
  same("leaf", leaf, a.leaf);
  return { ok: true, checked: "vectors" };
}

async function live(url) {
  const get = async (path, headers = {}) => fetch(url + path, { headers });
  const info = await (await get("/v1/info")).json();
  const authTag = tag("auth", info.exchange_id);
  const seed = randomBytes(32);
  const pk = pub(seed);
  const ts = Math.floor(Date.now() / 1000);
  const amount = "1000000";
  const openSig = sign(seed, H([authTag, pk.x, pk.y, amount, ts]));
  let r = await fetch(url + "/v1/accounts", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ pubkey: pk, amount, timestamp: ts, signature: openSig.json }),
  });
  same("open status", r.status, 201);
  const account = (await r.json()).account;
  let last = 0;
  const now = () => (last = Math.max(Date.now(), last + 1)); // ms, strictly increasing
  const signedFetch = (method, target, body = "") => {
    const raw = Buffer.from(body, "utf8");
    const headers = signRequest(seed, authTag, account, method, target, raw, now());
    if (body) headers["content-type"] = "application/json";
    return [headers, fetch(url + target, { method, headers, body: body || undefined })];
  };
  const depositBody = JSON.stringify({ amount: "500" });
  r = await signedFetch("POST", `/v1/accounts/${account}/deposit`, depositBody)[1];
  same("deposit status", r.status, 200);
  // Two identical reads within one second: both succeed.
  const t0 = Date.now();
  const [h1, p1] = signedFetch("GET", `/v1/accounts/${account}`);
  const r1 = await p1;
  const [, p2] = signedFetch("GET", `/v1/accounts/${account}`);
  const r2 = await p2;
  const within = Date.now() - t0;
  same("first read", r1.status, 200);
  same("second read", r2.status, 200);
  // The same signed request again is a replay.
  const r3 = await get(`/v1/accounts/${account}`, h1);
  same("replay status", r3.status, 401);
  const replay = (await r3.json()).detail;
  const view = await r2.json();
  same("balance", view.balance, "1000500");
  // docs/wire-protocol.md section 6: 8 inputs, with checkpoints and order_root.
  same("state", info.state, "slots");
  const leaf = H([
    pk.x,
    pk.y,
    signed(view.balance),
    H(view.positions.map(signed)),
    H(view.checkpoints.map(signed)),
    view.order_root,
    view.nonce,
    view.blinding,
  ]);
  same("account leaf from the opening", leaf, view.leaf);
  const wamount = "1000";
  const wsig = sign(seed, H([tag("withdraw", info.exchange_id), account, wamount, view.nonce]));
  const wbody = JSON.stringify({ amount: wamount, signature: wsig.packed_hex });
  r = await signedFetch("POST", `/v1/accounts/${account}/withdraw`, wbody)[1];
  const wstatus = r.status;
  const wjson = await r.json();
  same(`withdraw status (${JSON.stringify(wjson)})`, wstatus, 200);
  same("balance after withdraw", wjson.balance, "999500");
  return { ok: true, account, reads_ms: within, replay_detail: replay, nonce: wjson.nonce };
}

const [mode, arg] = process.argv.slice(2);
const result = mode === "vectors" ? checkVectors(arg) : await live(arg);
console.log(JSON.stringify(result));
