// INSECURE development Groth16 key from a KNOWN tau, alpha, beta and delta,
// with no powers of tau: node dev_zkey.cjs CIRCUIT.r1cs SEED_HEX OUT.zkey [--delta-one]
//
// `snarkjs groth16 setup` sums, for every r1cs coefficient, Lagrange-basis
// points read from a prepared ptau (one point operation per coefficient), and
// a phase-2 contribution then rescales the C and H sections by 1/delta. With
// the toxic waste known, every key point is [s]G for a scalar s computed in
// the scalar field: A_i = a_i(tau), B_i = b_i(tau) (G1 and G2), IC_i =
// beta a_i + alpha b_i + c_i (gamma = 1, as snarkjs), C_i = (beta a_i + alpha b_i
// + c_i) / delta, H_i = L'_{2i+1}(tau) / delta with L' the Lagrange basis of
// the domain of size 2N; then one scalar multiplication per point, in one
// helper process per core (dev_ptau.cjs' pool). tau, alpha and beta derive
// from SEED_HEX exactly as dev_ptau.cjs derives them, delta from the label
// "delta" (or 1 with --delta-one): with --delta-one, sections 1-9 are
// byte-identical to `snarkjs groth16 setup` on dev_ptau.cjs' file of the same
// seed (tests/prover/test_dev_zkey.py). Section 10 holds a 64-byte hash of
// sections 1-9 (not snarkjs' circuit hash) and no contribution, so `snarkjs
// zkey verify` refuses the key: it has no ptau to be checked against.
// Everything is PUBLIC: anyone can forge proofs. Development only.
"use strict";

const os = require("os");
const crypto = require("crypto");
const { Pool, scalarFromSeed, progress, ff, binFileUtils } = require("./dev_ptau.cjs");

function log2Floor(v) {
    let p = 0;
    while (2 ** (p + 1) <= v) p++;
    return p;
}

async function readR1cs(file, Fr) {
    const { fd, sections } = await binFileUtils.readBinFile(file, "r1cs", 1, 1 << 22, 1 << 24);
    const h = await binFileUtils.readSection(fd, sections, 1);
    const v = new DataView(h.buffer, h.byteOffset, h.byteLength);
    const n8 = v.getUint32(0, true);
    if (n8 !== Fr.n8) throw new Error("r1cs is not over the BN254 scalar field");
    const prime = ff.Scalar.fromRprLE(h, 4, n8);
    if (!ff.Scalar.eq(prime, Fr.p)) throw new Error("r1cs is not over the BN254 scalar field");
    let o = 4 + n8;
    const nVars = v.getUint32(o, true);
    const nOutputs = v.getUint32(o + 4, true);
    const nPubInputs = v.getUint32(o + 8, true);
    // o + 12: private inputs, o + 16: labels (u64)
    const nConstraints = v.getUint32(o + 24, true);
    const body = await binFileUtils.readSection(fd, sections, 2);
    await fd.close();
    return { nVars, nPublic: nOutputs + nPubInputs, nConstraints, body };
}

async function main() {
    const [r1csFile, seed, outFile, flag] = process.argv.slice(2);
    if (!r1csFile || !seed || !outFile || (flag && flag !== "--delta-one")) {
        throw new Error("usage: dev_zkey.cjs CIRCUIT.r1cs SEED_HEX OUT.zkey [--delta-one]");
    }
    const curve = await ff.getCurveFromName("bn128");
    const { Fr, G1, G2 } = curve;
    const tau = scalarFromSeed(Fr, seed, "tau");
    const alpha = scalarFromSeed(Fr, seed, "alpha");
    const beta = scalarFromSeed(Fr, seed, "beta");
    const delta = flag === "--delta-one" ? Fr.one : scalarFromSeed(Fr, seed, "delta");
    const invDelta = Fr.inv(delta);

    const { nVars, nPublic, nConstraints, body } = await readR1cs(r1csFile, Fr);
    const cirPower = log2Floor(nConstraints + nPublic) + 1;
    if (cirPower > 27) throw new Error(`circuit too big: 2^${cirPower} rows`);
    const N = 2 ** cirPower;
    const n8 = Fr.n8;

    // Lagrange basis of the size-m domain at tau: IFFT of (tau^0 .. tau^(m-1)).
    const lagrange = async (m) => {
        const powers = new ff.BigBuffer(m * n8);
        let acc = Fr.one;
        for (let i = 0; i < m; i++) {
            powers.set(acc, i * n8);
            acc = Fr.mul(acc, tau);
        }
        return Fr.ifft(powers);
    };
    const L = await lagrange(N);
    const at = (buff, i) => buff.slice(i * n8, (i + 1) * n8);

    // Per-wire QAP values at tau; the coefficient list of section 4.
    const a = new Array(nVars).fill(null);
    const b = new Array(nVars).fill(null);
    const c = new Array(nVars).fill(null);
    const add = (arr, s, x) => {
        arr[s] = arr[s] === null ? x : Fr.add(arr[s], x);
    };
    const coefs = [];
    const bodyView = new DataView(body.buffer, body.byteOffset, body.byteLength);
    let pos = 0;
    for (let k = 0; k < nConstraints; k++) {
        const Lk = at(L, k);
        for (let matrix = 0; matrix < 3; matrix++) {
            const n = bodyView.getUint32(pos, true);
            pos += 4;
            for (let t = 0; t < n; t++) {
                const s = bodyView.getUint32(pos, true);
                const raw = body.slice(pos + 4, pos + 4 + n8);
                pos += 4 + n8;
                const x = Fr.mul(Fr.fromRprLE(raw, 0), Lk);
                add([a, b, c][matrix], s, x);
                if (matrix < 2) coefs.push([matrix, k, s, raw]);
            }
        }
    }
    const one = new Uint8Array(n8);
    Fr.toRprLE(one, 0, Fr.one);
    for (let s = 0; s <= nPublic; s++) {
        add(a, s, at(L, nConstraints + s));
        coefs.push([0, nConstraints + s, s, one]);
    }
    const val = (arr, s) => (arr[s] === null ? Fr.zero : arr[s]);
    const abc = (s) =>
        Fr.add(Fr.add(Fr.mul(beta, val(a, s)), Fr.mul(alpha, val(b, s))), val(c, s));

    const scalars = (count, f) => {
        const buff = new ff.BigBuffer(count * n8);
        for (let i = 0; i < count; i++) buff.set(f(i), i * n8);
        return buff;
    };
    const pool = new Pool(Math.max(1, Math.min(os.cpus().length, 8)));
    const fd = await binFileUtils.createBinFile(outFile, "zkey", 1, 10, 1 << 22, 1 << 24);
    const hasher = crypto.createHash("blake2b512");
    const write = async (bytes) => {
        for (const part of bytes.buffers || [bytes]) hasher.update(part);
        await fd.write(bytes);
    };
    const section = async (id, fill) => {
        await binFileUtils.startWriteSection(fd, id);
        await fill();
        await binFileUtils.endWriteSection(fd);
    };
    const affine = (G, s) => G.toAffine(G.timesFr(G.g, s));
    const points = async (group, count, f, label) =>
        write(await pool.points(group, curve[group], Fr, scalars(count, f), count, label));

    // The same sections, in the same order, as snarkjs src/zkey_new.js.
    await section(1, async () => {
        const u = new Uint8Array(4);
        new DataView(u.buffer).setUint32(0, 1, true); // Groth16
        await write(u);
    });
    await section(2, async () => {
        const q = curve.q;
        const n8q = (Math.floor((ff.Scalar.bitLength(q) - 1) / 64) + 1) * 8;
        const n8r = (Math.floor((ff.Scalar.bitLength(Fr.p) - 1) / 64) + 1) * 8;
        const head = new Uint8Array(4 + n8q + 4 + n8r + 12);
        const hv = new DataView(head.buffer);
        hv.setUint32(0, n8q, true);
        ff.Scalar.toRprLE(head, 4, q, n8q);
        hv.setUint32(4 + n8q, n8r, true);
        ff.Scalar.toRprLE(head, 8 + n8q, Fr.p, n8r);
        hv.setUint32(8 + n8q + n8r, nVars, true);
        hv.setUint32(12 + n8q + n8r, nPublic, true);
        hv.setUint32(16 + n8q + n8r, N, true);
        await write(head);
        await write(affine(G1, alpha));
        await write(affine(G1, beta));
        await write(affine(G2, beta));
        await write(G2.toAffine(G2.g)); // gamma = 1
        await write(affine(G1, delta));
        await write(affine(G2, delta));
    });
    await section(4, async () => {
        const rr = ff.Scalar.mod(ff.Scalar.shl(1, n8 * 8), Fr.p);
        const R2r = Fr.e(ff.Scalar.mod(ff.Scalar.mul(rr, rr), Fr.p));
        const out = new ff.BigBuffer(4 + coefs.length * (12 + n8));
        const head = new Uint8Array(4);
        new DataView(head.buffer).setUint32(0, coefs.length, true);
        out.set(head, 0);
        const rec = new Uint8Array(12 + n8);
        const rv = new DataView(rec.buffer);
        coefs.forEach(([matrix, k, s, raw], i) => {
            rv.setUint32(0, matrix, true);
            rv.setUint32(4, k, true);
            rv.setUint32(8, s, true);
            Fr.toRprLE(rec, 12, Fr.mul(Fr.fromRprLE(raw, 0), R2r));
            out.set(rec, 4 + i * (12 + n8));
        });
        await write(out);
    });
    await section(3, () => points("G1", nPublic + 1, abc, "IC"));
    const L2 = await lagrange(2 * N);
    await section(9, () => points("G1", N, (i) => Fr.mul(at(L2, 2 * i + 1), invDelta), "H"));
    const nPrivate = nVars - nPublic - 1;
    await section(8, () =>
        points("G1", nPrivate, (i) => Fr.mul(abc(i + nPublic + 1), invDelta), "C"),
    );
    await section(5, () => points("G1", nVars, (s) => val(a, s), "A"));
    await section(6, () => points("G1", nVars, (s) => val(b, s), "B1"));
    await section(7, () => points("G2", nVars, (s) => val(b, s), "B2"));
    await section(10, async () => {
        await fd.write(hasher.digest());
        const zero = new Uint8Array(4);
        await fd.write(zero); // no contributions
    });
    await fd.close();
    await pool.close();
    await curve.terminate();
    progress(`dev zkey: ${nConstraints} constraints, domain 2^${cirPower}`);
}

main().then(
    () => process.exit(0),
    (err) => {
        process.stderr.write(`Error: ${err && err.message ? err.message : err}\n`);
        process.exit(1);
    },
);
