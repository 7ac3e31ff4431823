// Checks with polkadot-js that go-schnorrkel signs as Substrate wallets do:
// the key expanded from go-signature.json's seed is polkadot-js's key for
// that seed, and signatureVerify accepts the Go signatures, raw and
// <Bytes>-wrapped. To rerun (see gen-vectors.js for the npm install):
//
//   MINERAUTH_WRITE_GO_VECTOR=1 go test -count=1 -run TestGoSignatureVector ./auth/minerauth
//   NODE_PATH=/tmp/polka/node_modules node auth/minerauth/testdata/verify-go-signature.js
'use strict';

const path = require('path');
const { cryptoWaitReady, encodeAddress, signatureVerify, sr25519PairFromSeed, sr25519Verify } = require('@polkadot/util-crypto');
const { hexToU8a, stringToU8a, u8aToHex, u8aWrapBytes } = require('@polkadot/util');

async function main() {
  await cryptoWaitReady();
  const g = require(path.join(__dirname, 'go-signature.json'));
  const pair = sr25519PairFromSeed(hexToU8a(g.seed));
  const checks = {
    public_key_from_seed: u8aToHex(pair.publicKey) === g.public_key,
    address: encodeAddress(pair.publicKey, 42) === g.address,
    // signatureVerify is what dapps call; it accepts raw and wrapped alike,
    // so sr25519Verify pins down which bytes each signature signs.
    raw_signature: signatureVerify(g.message, g.signature, g.address).isValid &&
      sr25519Verify(stringToU8a(g.message), g.signature, pair.publicKey),
    wrapped_signature: signatureVerify(g.message, g.wrapped_signature, g.address).isValid &&
      sr25519Verify(u8aWrapBytes(g.message), g.wrapped_signature, pair.publicKey),
    // The negative control: the raw signature does not sign another message.
    other_message_refused: !signatureVerify(g.message + '0', g.signature, g.address).isValid,
  };
  console.log(JSON.stringify(checks, null, 2));
  if (!Object.values(checks).every(Boolean)) {
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
