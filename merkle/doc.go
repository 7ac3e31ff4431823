// Package merkle builds claim trees that anyone can check with OpenZeppelin's
// @openzeppelin/merkle-tree JavaScript library (StandardMerkleTree), and so
// with its MerkleProof.sol on chain.
//
// Each epoch of the reward ledger publishes one tree of cumulative amounts:
// a leaf says "account may have received amount in total, paid to recipient,
// as of epoch", and a claim pays amount minus what the account has already
// claimed. The leaf is OpenZeppelin's standard leaf over the encoding
// LeafEncoding, ["string","uint64","bytes32","bytes32","uint256"] =
// (Domain, epoch, account, recipient, cumulative amount):
//
//	leaf = keccak256(keccak256(abi.encode(Domain, epoch, account, recipient, amount)))
//	node = keccak256(min(a, b) ‖ max(a, b))
//
// Accounts and recipients are bytes32: 32-byte keys as they are, 20-byte
// Ethereum addresses left-padded with zeros (AccountFromAddress). Amounts are
// base units as decimal strings in dumps. The tree is OpenZeppelin's: leaves
// sorted by hash and laid out in reverse at the end of a complete binary tree
// array (children of node i at 2i+1 and 2i+2), so Tree.Nodes, the dump's
// "tree" and Tree.Index match StandardMerkleTree.of byte for byte.
//
// To verify a published tree or a single claim in JavaScript:
//
//	const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");
//	const tree = StandardMerkleTree.load(JSON.parse(fs.readFileSync("epoch-7.json"))); // checks every node
//	const value = ["proofgrid.claim.v1", "7", account, recipient, "1000000"];
//	StandardMerkleTree.verify(root, ["string","uint64","bytes32","bytes32","uint256"], value, proof); // true
//	// the root is tree.root; the proof of value i is tree.getProof(i)
//
// The nodes of a built tree can be stored as one blob (MarshalNodes) and a
// proof read back from them in O(log n) (ProofFromNodes, or ProofIndices for
// ranged reads) without rebuilding.
package merkle
