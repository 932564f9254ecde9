// SHA-256 through OpenSSL's EVP interface, and the MMR hashing rules of
// spec §1.3 (leaf, node, fold, root pre-images).
//
// The digest implementation is fetched once per process and each Sha256
// keeps its EVP context for reuse: the implicit-fetch style (EVP_sha256()
// plus a fresh context per call) is several times slower on OpenSSL 3.
#pragma once

#include "bytes.h"

#include <initializer_list>

struct evp_md_ctx_st;

namespace qmdb {

class Sha256 {
public:
	Sha256();
	~Sha256();
	Sha256(const Sha256 &) = delete;
	Sha256 &operator=(const Sha256 &) = delete;
	Sha256(Sha256 &&other) noexcept : ctx_(other.ctx_) { other.ctx_ = nullptr; }
	Sha256 &operator=(Sha256 &&other) noexcept;

	// Hash the concatenation of `parts` (no separators), as Hasher::hash does upstream.
	Digest hash(std::initializer_list<ByteView> parts);
	Digest hash(ByteView data) { return hash({data}); }

private:
	evp_md_ctx_st *ctx_;
};

// How the peaks are combined into a root (spec §1.4). QMDB uses BackwardFold.
enum class Bagging { ForwardFold, BackwardFold };

class Hasher {
public:
	explicit Hasher(Bagging bagging = Bagging::BackwardFold) : bagging_(bagging) {}

	Bagging bagging() const { return bagging_; }

	// SHA256(be8(pos) || element); pos is the leaf's Position, not its Location.
	Digest leaf(uint64_t pos, ByteView element);
	// SHA256(be8(pos) || left || right)
	Digest node(uint64_t pos, const Digest &left, const Digest &right);
	// SHA256(acc || peak)
	Digest fold(const Digest &acc, const Digest &peak);
	// SHA256(be8(leaves) [|| be8(k)] || folded), be8(k) only when k > 0.
	Digest root_from_folded(uint64_t leaves, uint64_t k, const Digest &folded);
	// SHA256(be8(0)): the root of the empty tree.
	Digest empty_root();
	Digest digest(ByteView data) { return sha_.hash(data); }

private:
	Sha256 sha_;
	Bagging bagging_;
};

} // namespace qmdb
