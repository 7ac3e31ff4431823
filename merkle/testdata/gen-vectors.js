// gen-vectors.js writes oz-vectors.json: claim trees built by the reference
// client, OpenZeppelin's @openzeppelin/merkle-tree (StandardMerkleTree), that
// the Go tests in package merkle must reproduce byte for byte.
//
// Rerun (from the repository root, with the library installed outside it):
//
//   mkdir -p /tmp/oz && (cd /tmp/oz && npm init -y && npm install @openzeppelin/merkle-tree@1.0.8)
//   NODE_PATH=/tmp/oz/node_modules node merkle/testdata/gen-vectors.js > merkle/testdata/oz-vectors.json
"use strict";

const crypto = require("crypto");
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");

const encoding = ["string", "uint64", "bytes32", "bytes32", "uint256"];
const domain = "proofgrid.claim.v1";

// bytes32 derives a fixed 32-byte value from a label, so the vectors need no
// randomness.
const bytes32 = (label) => "0x" + crypto.createHash("sha256").update(label).digest("hex");

// An Ethereum address as a bytes32 account: left-padded with zeros.
const address = "0x" + "00".repeat(12) + "5b38da6a701c568545dcfcb03fcb875f56beddc4";

const two64 = 1n << 64n;
const maxUint256 = (1n << 256n) - 1n;

const claim = (epoch, account, recipient, amount) => [domain, String(epoch), account, recipient, amount.toString()];

const cases = [
  {
    name: "seven",
    values: [
      claim(7, bytes32("account-1"), bytes32("recipient-1"), 1000000n),
      claim(7, bytes32("account-2"), bytes32("recipient-2"), 0n),
      claim(7, address, address, two64 + 12345n),
      claim(7, bytes32("account-4"), bytes32("recipient-4"), 1n),
      claim(7, bytes32("account-5"), bytes32("recipient-5"), maxUint256),
      claim(7, bytes32("account-6"), bytes32("account-6"), 18446744073709551615n),
      claim(7, bytes32("account-7"), bytes32("recipient-7"), 123456789012345678901234567890n),
    ],
  },
  {
    name: "one",
    values: [claim(1, bytes32("solo"), bytes32("solo-recipient"), 42n)],
  },
  {
    name: "two",
    values: [
      claim(18446744073709551615n, bytes32("left"), bytes32("left-recipient"), 5n),
      claim(18446744073709551615n, address, bytes32("right-recipient"), two64),
    ],
  },
  {
    name: "thirty_three",
    values: Array.from({ length: 33 }, (_, i) =>
      claim(99, bytes32("many-" + i), bytes32("many-recipient-" + i), BigInt(i) * 1000000007n + two64 * BigInt(i % 3)),
    ),
  },
];

const out = {
  library: "@openzeppelin/merkle-tree@" + require("@openzeppelin/merkle-tree/package.json").version,
  leaf_encoding: encoding,
  cases: cases.map(({ name, values }) => {
    const tree = StandardMerkleTree.of(values, encoding);
    const dump = tree.dump();
    return {
      name,
      values,
      root: tree.root,
      tree_indices: dump.values.map((v) => v.treeIndex),
      leaf_hashes: dump.values.map((v) => tree.leafHash(v.value)),
      proofs: values.map((_, i) => tree.getProof(i)),
      dump_json: JSON.stringify(dump),
    };
  }),
};

process.stdout.write(JSON.stringify(out, null, 2) + "\n");
