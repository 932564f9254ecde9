#include "hash.h"

#include "codec.h"
#include "error.h"

#include <openssl/evp.h>

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

// Fetched once and never freed: process-lifetime, like OpenSSL's own tables.
static const EVP_MD *
sha256_md() {
	static EVP_MD *md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
	if (!md)
		throw Error(ErrorCode::Internal, "OpenSSL has no SHA256 implementation");
	return md;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
	if (!ctx_)
		throw Error(ErrorCode::Internal, "EVP_MD_CTX_new failed");
}

Sha256::~Sha256() {
	EVP_MD_CTX_free(ctx_);
}

Digest
Sha256::hash(std::initializer_list<ByteView> parts) {
	Digest out;
	unsigned int len = 0;
	bool ok = EVP_DigestInit_ex2(ctx_, sha256_md(), nullptr) == 1;
	for (ByteView p : parts)
		ok = ok && EVP_DigestUpdate(ctx_, p.data, p.size) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx_, out.data(), &len) == 1;
	if (!ok || len != out.size())
		throw Error(ErrorCode::Internal, "SHA-256 computation failed");
	return out;
}

Digest
Hasher::leaf(uint64_t pos, ByteView element) {
	uint8_t p[8];
	write_be8(p, pos);
	return sha_.hash({ByteView(p, 8), element});
}

Digest
Hasher::node(uint64_t pos, const Digest &left, const Digest &right) {
	uint8_t p[8];
	write_be8(p, pos);
	return sha_.hash({ByteView(p, 8), left, right});
}

Digest
Hasher::fold(const Digest &acc, const Digest &peak) {
	return sha_.hash({acc, peak});
}

Digest
Hasher::root_from_folded(uint64_t leaves, uint64_t k, const Digest &folded) {
	uint8_t prefix[16];
	write_be8(prefix, leaves);
	write_be8(prefix + 8, k);
	return sha_.hash({ByteView(prefix, k == 0 ? 8 : 16), folded});
}

Digest
Hasher::empty_root() {
	uint8_t zero[8] = {0};
	return sha_.hash(ByteView(zero, 8));
}

} // namespace qmdb
