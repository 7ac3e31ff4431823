// Package minerauth authenticates the signed requests of Pool miners, the
// way Bittensor and Substrate wallets sign: sr25519 over a short text
// message, the signer named by its SS58 hotkey address.
//
// A signed request carries three headers:
//
//	X-Key        SS58 address of the hotkey (any network prefix; Bittensor uses 42, "5...")
//	X-Timestamp  unix seconds, decimal digits only, within ±300 s of the server's clock
//	X-Signature  hex of the 64-byte sr25519 signature, with or without 0x
//
// The signature is made in the Substrate signing context ("substrate") over
// one of these messages, the timestamp exactly as sent in X-Timestamp:
//
//	auth:{timestamp}                                          every signed Pool request
//	recipient_coldkey:update:{timestamp}:{recipient_coldkey}  changing where rewards go
//
// The message may be signed as is or wrapped as <Bytes>{message}</Bytes>,
// which is what polkadot-js signRaw, the browser extensions and most wallets
// sign. Each signature is accepted once: a replay within the window is
// refused.
//
// Signing a request with polkadot-js (@polkadot/keyring, @polkadot/util):
//
//	await cryptoWaitReady();
//	const hotkey = new Keyring({ type: 'sr25519' }).addFromUri(mnemonic);
//	const ts = String(Math.floor(Date.now() / 1000));
//	const sig = u8aToHex(hotkey.sign(stringToU8a(`auth:${ts}`)));
//	const headers = { 'X-Key': hotkey.address, 'X-Timestamp': ts, 'X-Signature': sig };
//	await fetch(url, { headers });
//
// The package holds no HTTP framework and no storage: a surface reads the
// headers and calls Verifier.Authenticate, with a ReplayCache such as
// auth.ReplayCache.
package minerauth
