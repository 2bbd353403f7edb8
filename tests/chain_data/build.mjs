// Rebuilds artifacts.json from TestTokens.sol with the npm package solc (the compiler as
// WebAssembly). Run from the repository root:
//   npm install --prefix ~/.cache/ledgerdesk-tools solc@0.8.37
//   NODE_PATH=~/.cache/ledgerdesk-tools/node_modules node tests/chain_data/build.mjs
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(join(process.env.NODE_PATH ?? ".", "noop.js"));
const solc = require("solc");
const here = dirname(fileURLToPath(import.meta.url));
const input = {
  language: "Solidity",
  sources: { "TestTokens.sol": { content: readFileSync(join(here, "TestTokens.sol"), "utf8") } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors ?? []).filter((e) => e.severity === "error");
if (errors.length) {
  console.error(errors.map((e) => e.formattedMessage).join("\n"));
  process.exit(1);
}
const artifacts = { compiler: solc.version(), contracts: {} };
for (const [name, contract] of Object.entries(output.contracts["TestTokens.sol"])) {
  artifacts.contracts[name] = { abi: contract.abi, bytecode: "0x" + contract.evm.bytecode.object };
}
writeFileSync(join(here, "artifacts.json"), JSON.stringify(artifacts, null, 1) + "\n");
console.log(`compiled ${Object.keys(artifacts.contracts).join(", ")} with solc ${artifacts.compiler}`);
