// Prints circomlibjs Poseidon(args...) as a decimal string: golden vector for tests.
const { buildPoseidon } = require("circomlibjs");

async function main() {
    const poseidon = await buildPoseidon();
    const inputs = process.argv.slice(2).map((x) => BigInt(x));
    console.log(poseidon.F.toString(poseidon(inputs)));
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
