// Ed25519 (RFC 8032) through OpenSSL 3's EVP interface: key generation,
// the public key of a private one, signing and verifying. Keys are raw
// bytes: a 32-byte private seed, a 32-byte public key.
#pragma once

#include "bytes.h"

#include <array>

namespace qmdb {

using Ed25519Seed = std::array<uint8_t, 32>;
using Ed25519Public = std::array<uint8_t, 32>;
using Ed25519Signature = std::array<uint8_t, 64>;

// A new private key from the system's random source.
Ed25519Seed ed25519_generate();
Ed25519Public ed25519_public(const Ed25519Seed &seed);
Ed25519Signature ed25519_sign(const Ed25519Seed &seed, ByteView message);
// False for a wrong signature and for a public key that is not a valid
// point (never throws for bad input).
bool ed25519_verify(const Ed25519Public &key, ByteView message, const Ed25519Signature &signature);

} // namespace qmdb
