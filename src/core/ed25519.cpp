#include "ed25519.h"

#include "error.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

namespace {

struct KeyFree {
	void operator()(EVP_PKEY *k) const { EVP_PKEY_free(k); }
};
struct CtxFree {
	void operator()(EVP_MD_CTX *c) const { EVP_MD_CTX_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Ctx = std::unique_ptr<EVP_MD_CTX, CtxFree>;

Key
private_key(const Ed25519Seed &seed) {
	Key k(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
	if (!k)
		throw Error(ErrorCode::Internal, "OpenSSL could not load an Ed25519 private key");
	return k;
}

} // namespace

Ed25519Seed
ed25519_generate() {
	Ed25519Seed seed;
	if (RAND_priv_bytes(seed.data(), static_cast<int>(seed.size())) != 1)
		throw Error(ErrorCode::Internal, "OpenSSL's random source failed");
	return seed;
}

Ed25519Public
ed25519_public(const Ed25519Seed &seed) {
	Key k = private_key(seed);
	Ed25519Public pub;
	size_t len = pub.size();
	if (EVP_PKEY_get_raw_public_key(k.get(), pub.data(), &len) != 1 || len != pub.size())
		throw Error(ErrorCode::Internal, "OpenSSL could not derive an Ed25519 public key");
	return pub;
}

Ed25519Signature
ed25519_sign(const Ed25519Seed &seed, ByteView message) {
	Key k = private_key(seed);
	Ctx ctx(EVP_MD_CTX_new());
	Ed25519Signature sig;
	size_t len = sig.size();
	if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, k.get()) != 1 ||
	    EVP_DigestSign(ctx.get(), sig.data(), &len, message.data, message.size) != 1 || len != sig.size())
		throw Error(ErrorCode::Internal, "OpenSSL could not make an Ed25519 signature");
	return sig;
}

bool
ed25519_verify(const Ed25519Public &key, ByteView message, const Ed25519Signature &signature) {
	Key k(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()));
	Ctx ctx(EVP_MD_CTX_new());
	if (!k || !ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, k.get()) != 1)
		return false;
	return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data, message.size) == 1;
}

} // namespace qmdb
