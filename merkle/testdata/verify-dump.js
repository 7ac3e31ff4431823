// verify-dump.js checks a claim tree dump written by package merkle with the
// reference client, OpenZeppelin's @openzeppelin/merkle-tree: the dump loads
// (StandardMerkleTree.load checks every value and node), its root is the one
// Go printed, every value's proof verifies, and rebuilding the tree from the
// values alone gives the same dump byte for byte.
//
// Run (from the repository root, with the library installed outside it as
// gen-vectors.js says):
//
//   go test ./merkle/ -count=1 -run TestRandomDumpRoundTrip -v -dump /tmp/go-dump.json   # logs the root
//   NODE_PATH=/tmp/oz/node_modules node merkle/testdata/verify-dump.js /tmp/go-dump.json 0x<root>
"use strict";

const fs = require("fs");
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");

const [file, wantRoot] = process.argv.slice(2);
if (!file || !wantRoot) {
  console.error("usage: verify-dump.js DUMP.json ROOT");
  process.exit(2);
}

const text = fs.readFileSync(file, "utf8");
const dump = JSON.parse(text);
const tree = StandardMerkleTree.load(dump);
if (tree.root !== wantRoot) {
  console.error(`root ${tree.root}, want ${wantRoot}`);
  process.exit(1);
}
for (const [i, value] of tree.entries()) {
  if (!StandardMerkleTree.verify(tree.root, dump.leafEncoding, value, tree.getProof(i))) {
    console.error(`proof of value ${i} does not verify`);
    process.exit(1);
  }
}
const rebuilt = StandardMerkleTree.of(dump.values.map((v) => v.value), dump.leafEncoding);
if (JSON.stringify(rebuilt.dump()) !== text) {
  console.error("StandardMerkleTree.of on the same values dumps differently");
  process.exit(1);
}
console.log(`ok: ${tree.length} values, root ${tree.root}, every proof verifies, rebuilt dump identical`);
