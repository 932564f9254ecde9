#include "proof.h"

#include "error.h"
#include "merkle.h"
#include "mmr.h"

#include <algorithm>
#include <map>
#include <string>

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

void
encode_proof(const Proof &proof, Writer &w) {
	w.varint(proof.leaves);
	w.varint(proof.inactive_peaks);
	w.length(proof.digests.size());
	for (const Digest &d : proof.digests)
		w.raw(d);
}

Proof
decode_proof(Reader &r, size_t max_digests) {
	Proof p;
	p.leaves = r.varint();
	if (!location_is_valid(p.leaves))
		throw DecodeError(DecodeErrorKind::Invalid, "proof leaves exceed MAX_LEAVES");
	p.inactive_peaks = r.varint();
	size_t n = r.length(max_digests, "proof digest");
	// Reserve only what the input can hold: a hostile count must not allocate.
	p.digests.reserve(std::min(n, r.remaining() / 32));
	for (size_t i = 0; i < n; i++)
		p.digests.push_back(r.digest());
	return p;
}

static void
collect_siblings(const Subtree &s, uint64_t start, uint64_t end, std::vector<uint64_t> &out) {
	if (s.leaf_end() <= start || s.leaf_start >= end) {
		out.push_back(s.pos);
		return;
	}
	if (s.leaf_start >= start && s.leaf_end() <= end)
		return;
	collect_siblings(s.left(), start, end, out);
	collect_siblings(s.right(), start, end, out);
}

Blueprint::Blueprint(uint64_t leaves, uint64_t k, Bagging bagging, uint64_t start, uint64_t end) {
	if (start >= end)
		throw Error(ErrorCode::InvalidProof, "empty range");
	if (end - 1 >= leaves)
		throw Error(ErrorCode::InvalidProof, "range [" + std::to_string(start) + ", " + std::to_string(end) +
		                                         ") out of bounds for " + std::to_string(leaves) + " leaves");
	uint64_t cursor = 0, i = 0;
	auto ps = peaks(location_to_position(leaves));
	for (const Peak &p : ps) {
		Subtree sub{p.pos, p.height, cursor};
		if (sub.leaf_end() <= start) {
			if (i < k || bagging == Bagging::ForwardFold)
				fold_prefix.push_back(sub);
			else
				prefix_active_peaks.push_back(sub);
		} else if (sub.leaf_start >= end) {
			if (bagging == Bagging::BackwardFold && i >= k)
				suffix_peaks.push_back(p.pos);
			else
				after_peaks.push_back(p.pos);
		} else {
			range_peaks.push_back(sub);
		}
		cursor = sub.leaf_end();
		i++;
	}
	if (k > ps.size())
		throw Error(ErrorCode::InvalidProof, "inactive peaks exceed the peak count");
	for (const Subtree &s : prefix_active_peaks)
		fetch_nodes.push_back(s.pos);
	fetch_nodes.insert(fetch_nodes.end(), after_peaks.begin(), after_peaks.end());
	for (const Subtree &s : range_peaks)
		collect_siblings(s, start, end, fetch_nodes);
}

static Digest
stored_node(NodeStore &store, uint64_t pos) {
	auto d = store.get(pos);
	if (!d)
		throw Error(ErrorCode::Pruned, "node at position " + std::to_string(pos) + " is pruned");
	return *d;
}

Proof
build_proof(Hasher &hasher, NodeStore &store, uint64_t leaves, uint64_t k, uint64_t start, uint64_t end) {
	Blueprint bp(leaves, k, hasher.bagging(), start, end);
	Proof proof;
	proof.leaves = leaves;
	proof.inactive_peaks = k;
	if (!bp.fold_prefix.empty()) {
		Digest acc = stored_node(store, bp.fold_prefix[0].pos);
		for (size_t i = 1; i < bp.fold_prefix.size(); i++)
			acc = hasher.fold(acc, stored_node(store, bp.fold_prefix[i].pos));
		proof.digests.push_back(acc);
	}
	size_t direct = bp.prefix_active_peaks.size() + bp.after_peaks.size();
	for (size_t i = 0; i < direct; i++)
		proof.digests.push_back(stored_node(store, bp.fetch_nodes[i]));
	if (!bp.suffix_peaks.empty()) {
		Digest acc = stored_node(store, bp.suffix_peaks.back());
		for (size_t i = bp.suffix_peaks.size() - 1; i-- > 0;)
			acc = hasher.fold(stored_node(store, bp.suffix_peaks[i]), acc);
		proof.digests.push_back(acc);
	}
	for (size_t i = direct; i < bp.fetch_nodes.size(); i++)
		proof.digests.push_back(stored_node(store, bp.fetch_nodes[i]));
	return proof;
}

namespace {

// Left-first DFS over a range peak, consuming siblings and elements in order.
struct Reconstruction {
	Hasher &hasher;
	const std::vector<ByteView> &elements;
	const std::vector<Digest> &digests;
	uint64_t start, end;
	size_t next_element = 0;
	size_t next_sibling;
	PositionedDigests *collected;

	Digest rec(const Subtree &s) {
		Digest d;
		if (s.leaf_end() <= start || s.leaf_start >= end) {
			if (next_sibling >= digests.size())
				throw Error(ErrorCode::InvalidProof, "missing digests");
			d = digests[next_sibling++];
		} else if (s.height == 0) {
			if (next_element >= elements.size())
				throw Error(ErrorCode::InvalidProof, "missing elements");
			d = hasher.leaf(s.pos, elements[next_element++]);
		} else {
			Digest l = rec(s.left());
			Digest r = rec(s.right());
			d = hasher.node(s.pos, l, r);
		}
		if (collected)
			collected->emplace_back(s.pos, d);
		return d;
	}
};

} // namespace

static Digest
reconstruct_or_throw(Hasher &hasher, const Proof &proof, const std::vector<ByteView> &elements, uint64_t start,
                     PositionedDigests *collected) {
	if (elements.empty()) {
		if (start == 0 && proof.inactive_peaks == 0 && proof.leaves == 0 && proof.digests.empty())
			return hasher.empty_root();
		throw Error(ErrorCode::InvalidProof, "no elements");
	}
	if (start >= MAX_LEAVES || elements.size() > MAX_LEAVES - start)
		throw Error(ErrorCode::InvalidProof, "range overflows");
	uint64_t end = start + elements.size();
	if (end > proof.leaves)
		throw Error(ErrorCode::InvalidProof, "range beyond proof leaves");
	Blueprint bp(proof.leaves, proof.inactive_peaks, hasher.bagging(), start, end);
	size_t fc = bp.fold_prefix.empty() ? 0 : 1;
	size_t sc = bp.suffix_peaks.empty() ? 0 : 1;
	if (proof.digests.size() != fc + bp.fetch_nodes.size() + sc)
		throw Error(ErrorCode::InvalidProof, "wrong digest count");

	const auto &D = proof.digests;
	size_t idx = 0;
	std::vector<Digest> list;
	if (fc)
		list.push_back(D[idx++]);
	for (const Subtree &s : bp.prefix_active_peaks) {
		if (collected)
			collected->emplace_back(s.pos, D[idx]);
		list.push_back(D[idx++]);
	}
	size_t after_idx = idx;
	idx += bp.after_peaks.size();
	size_t suffix_idx = idx;
	idx += sc;

	Reconstruction rec{hasher, elements, D, start, end, 0, idx, collected};
	for (const Subtree &s : bp.range_peaks)
		list.push_back(rec.rec(s));
	for (size_t i = 0; i < bp.after_peaks.size(); i++) {
		if (collected)
			collected->emplace_back(bp.after_peaks[i], D[after_idx + i]);
		list.push_back(D[after_idx + i]);
	}
	if (sc)
		list.push_back(D[suffix_idx]);
	if (rec.next_element != elements.size() || rec.next_sibling != D.size())
		throw Error(ErrorCode::InvalidProof, "unused digests or elements");

	uint64_t k = proof.inactive_peaks;
	uint64_t to_fold = fc ? (k > bp.fold_prefix.size() ? k - bp.fold_prefix.size() : 0) + 1 : k;
	return root_with_folded_peaks(hasher, proof.leaves, to_fold, k, list);
}

std::optional<Digest>
reconstruct_root(Hasher &hasher, const Proof &proof, const std::vector<ByteView> &elements, uint64_t start,
                 PositionedDigests *collected) {
	try {
		return reconstruct_or_throw(hasher, proof, elements, start, collected);
	} catch (const Error &) {
		return std::nullopt;
	}
}

bool
verify_range_inclusion(Hasher &hasher, const Proof &proof, const std::vector<ByteView> &elements, uint64_t start,
                       const Digest &root) {
	auto r = reconstruct_root(hasher, proof, elements, start);
	return r && *r == root;
}

bool
verify_range_inclusion_and_extract_digests(Hasher &hasher, const Proof &proof, const std::vector<ByteView> &elements,
                                           uint64_t start, const Digest &root, PositionedDigests &collected) {
	collected.clear();
	auto r = reconstruct_root(hasher, proof, elements, start, &collected);
	if (!r || *r != root) {
		collected.clear();
		return false;
	}
	return true;
}

namespace {

// Rebuilds authenticated prefix subtrees from the supplied pins; each pin
// must be consumed exactly once.
struct PinCheck {
	Hasher &hasher;
	std::map<uint64_t, Digest> pins;

	std::optional<Digest> rebuild(const Subtree &s) {
		auto it = pins.find(s.pos);
		if (it != pins.end()) {
			Digest d = it->second;
			pins.erase(it);
			return d;
		}
		if (s.height == 0)
			return std::nullopt;
		auto l = rebuild(s.left());
		if (!l)
			return std::nullopt;
		auto r = rebuild(s.right());
		if (!r)
			return std::nullopt;
		return hasher.node(s.pos, *l, *r);
	}
};

void
prefix_siblings(const Subtree &s, uint64_t start, std::vector<Subtree> &out) {
	if (s.leaf_end() <= start) {
		out.push_back(s);
		return;
	}
	if (s.leaf_start >= start)
		return;
	prefix_siblings(s.left(), start, out);
	prefix_siblings(s.right(), start, out);
}

} // namespace

bool
verify_proof_and_pinned_nodes(Hasher &hasher, const Proof &proof, const std::vector<ByteView> &elements, uint64_t start,
                              const std::vector<Digest> &pins, const Digest &root) {
	PositionedDigests collected;
	if (!verify_range_inclusion_and_extract_digests(hasher, proof, elements, start, root, collected))
		return false;
	if (elements.empty())
		return pins.empty();
	if (start > MAX_LEAVES || start > proof.leaves)
		return false;
	std::vector<uint64_t> positions = nodes_to_pin(start);
	if (positions.size() != pins.size())
		return false;
	PinCheck check{hasher, {}};
	for (size_t i = 0; i < positions.size(); i++)
		check.pins[positions[i]] = pins[i];
	std::map<uint64_t, Digest> authenticated(collected.begin(), collected.end());
	auto matches = [&](const Subtree &s) {
		auto it = authenticated.find(s.pos);
		auto d = check.rebuild(s);
		return it != authenticated.end() && d && *d == it->second;
	};
	try {
		Blueprint bp(proof.leaves, proof.inactive_peaks, hasher.bagging(), start, start + elements.size());
		if (!bp.fold_prefix.empty()) {
			auto acc = check.rebuild(bp.fold_prefix[0]);
			for (size_t i = 1; acc && i < bp.fold_prefix.size(); i++) {
				auto next = check.rebuild(bp.fold_prefix[i]);
				acc = next ? std::optional<Digest>(hasher.fold(*acc, *next)) : std::nullopt;
			}
			if (!acc || *acc != proof.digests[0])
				return false;
		}
		for (const Subtree &s : bp.prefix_active_peaks)
			if (!matches(s))
				return false;
		std::vector<Subtree> siblings;
		if (!bp.range_peaks.empty())
			prefix_siblings(bp.range_peaks[0], start, siblings);
		for (const Subtree &s : siblings)
			if (!matches(s))
				return false;
	} catch (const Error &) {
		return false;
	}
	return check.pins.empty();
}

} // namespace qmdb
