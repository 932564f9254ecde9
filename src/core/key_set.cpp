#include "key_set.h"
#include "quiet_thread.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "core_only.h"

namespace qmdb {

namespace {

uint64_t
mix(uint64_t a, uint64_t b) {
	unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
	return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

uint64_t
process_seed() {
	static const uint64_t seed = [] {
		std::random_device rd;
		return (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ 0x9E3779B97F4A7C15ull;
	}();
	return seed;
}

constexpr size_t MAX_BUDGET = size_t(3) << 30;
constexpr size_t FIRST_SLOTS = 1024;
// Below this many keys a second thread is not worth its start.
constexpr size_t PARALLEL_SORT_FROM = size_t(1) << 16;

} // namespace

KeySet::KeySet(size_t budget_bytes, size_t payload_bytes)
    : budget_(std::min(budget_bytes, MAX_BUDGET)), payload_(payload_bytes), seed_(process_seed()) {}

KeySet::~KeySet() {
	for (uint8_t *slab : slabs_)
		big_free(slab, BIG_PAGE);
}

uint8_t *
KeySet::new_block() {
	size_t in_slab = blocks_.size() % BLOCKS_PER_SLAB;
	if (in_slab == 0) {
		slabs_.reserve(slabs_.size() + 1); // so the push below cannot throw and leak
		slabs_.push_back(static_cast<uint8_t *>(big_alloc(BIG_PAGE)));
	}
	return slabs_.back() + in_slab * BLOCK;
}

uint64_t
KeySet::hash(ByteView key) const {
	uint64_t h = seed_ ^ (key.size * 0xA0761D6478BD642Full);
	size_t i = 0;
	for (; i + 8 <= key.size; i += 8) {
		uint64_t w;
		std::memcpy(&w, key.data + i, 8);
		h = mix(h ^ w, 0xE7037ED1A0B428DBull);
	}
	uint64_t tail = 0;
	if (i < key.size)
		std::memcpy(&tail, key.data + i, key.size - i);
	return mix(h ^ tail, 0x8EBC6AF09C88C6E3ull);
}

ByteView
KeySet::at(size_t offset) const {
	const uint8_t *p = blocks_[offset / BLOCK] + offset % BLOCK;
	uint32_t len;
	std::memcpy(&len, p, 4);
	return ByteView(p + 4, len);
}

bool
KeySet::grow() {
	size_t n = slots_.empty() ? FIRST_SLOTS : slots_.size() * 2;
	if (n * sizeof(uint64_t) + blocks_.size() * BLOCK > budget_)
		return false;
	rehash(n);
	return true;
}

void
KeySet::reserve(size_t keys) {
	size_t n = FIRST_SLOTS;
	while (n * 7 < keys * 10)
		n *= 2;
	if (n > slots_.size() && n * sizeof(uint64_t) + blocks_.size() * BLOCK <= budget_)
		rehash(n);
}

size_t
KeySet::memory_for(size_t keys, size_t key_bytes, size_t longest, size_t payload_bytes) {
	// Slots: the table doubles once the load passes 0.7, from FIRST_SLOTS.
	size_t slots = FIRST_SLOTS;
	while ((keys + 1) * 10 > slots * 7)
		slots *= 2;
	// Arena: a key never straddles blocks, so a block may leave up to one
	// entry's worth unused; the blocks come whole.
	size_t entry = 4 + longest + payload_bytes;
	size_t arena = key_bytes + keys * (4 + payload_bytes);
	size_t per_block = entry < BLOCK ? BLOCK - entry + 1 : 1;
	size_t blocks = (arena + per_block - 1) / per_block + 1;
	return slots * sizeof(uint64_t) + blocks * BLOCK;
}

void
KeySet::rehash(size_t n) {
	decltype(slots_) old;
	old.swap(slots_);
	slots_.assign(n, 0);
	// A slot's home comes from its tag alone: moving it needs no look at
	// the key itself (a cache miss into the arena each).
	for (uint64_t s : old) {
		if (!s)
			continue;
		size_t i = home(static_cast<uint32_t>(s));
		while (slots_[i])
			i = (i + 1) & (n - 1);
		slots_[i] = s;
	}
}

void
KeySet::prefetch(ByteView key) const {
	if (!slots_.empty())
		__builtin_prefetch(&slots_[home(static_cast<uint32_t>(hash(key) >> 32))]);
}

KeySet::Insert
KeySet::insert(ByteView key, uint8_t **payload) {
	if (sorted_)
		throw std::logic_error("KeySet::insert after visit_sorted");
	// Keep the load under 0.7 so probes stay short.
	if ((count_ + 1) * 10 > slots_.size() * 7 && !grow())
		return Insert::Full;
	uint32_t tag = static_cast<uint32_t>(hash(key) >> 32);
	size_t mask = slots_.size() - 1, i = home(tag);
	for (; slots_[i]; i = (i + 1) & mask) {
		if (static_cast<uint32_t>(slots_[i]) != tag)
			continue;
		ByteView k = stored(slots_[i]);
		if (k.size == key.size && std::memcmp(k.data, key.data, key.size) == 0)
			return Insert::Present;
	}
	size_t need = 4 + key.size + payload_;
	if (blocks_.empty() || used_ + need > BLOCK) {
		size_t blocks = blocks_.size() + 1;
		if (need > BLOCK || blocks * BLOCK + slots_.size() * sizeof(uint64_t) > budget_ ||
		    blocks * BLOCK >= (uint64_t(1) << 32) - 1)
			return Insert::Full;
		uint8_t *block = new_block();
		if (!blocks_.empty())
			block_used_.push_back(static_cast<uint32_t>(used_));
		blocks_.push_back(block);
		used_ = 0;
	}
	uint64_t offset = (blocks_.size() - 1) * BLOCK + used_;
	uint32_t len = static_cast<uint32_t>(key.size);
	uint8_t *p = blocks_.back() + used_;
	std::memcpy(p, &len, 4);
	if (key.size)
		std::memcpy(p + 4, key.data, key.size);
	std::memset(p + 4 + key.size, 0, payload_);
	if (payload)
		*payload = p + 4 + key.size;
	used_ += need;
	slots_[i] = ((offset + 1) << 32) | tag;
	count_++;
	return Insert::Added;
}

void
KeySet::visit_sorted(const std::function<void(ByteView key, const uint8_t *payload)> &visit) {
	sorted_ = true;
	// Each slot becomes (4 bytes of the key, big-endian, zero-padded) << 32
	// | (offset + 1): integers order nearly every pair, and only equal bytes
	// there need a look at the keys. The 4 bytes are the first after what
	// every key shares (keys like "account:..." would otherwise tie on all
	// of them). Zero padding keeps the order right: a key that pads is a
	// prefix of the other up to there. The arena is read in its own order
	// (not the slots'), one pass through memory each time.
	auto for_each_key = [&](auto &&f) {
		for (size_t b = 0; b < blocks_.size(); b++) {
			size_t end = b + 1 < blocks_.size() ? block_used_[b] : used_;
			for (size_t at = 0; at < end;) {
				ByteView k = this->at(b * BLOCK + at);
				f(k, b * BLOCK + at);
				at += 4 + k.size + payload_;
			}
		}
	};
	size_t shared = SIZE_MAX;
	ByteView first;
	for_each_key([&](ByteView k, size_t) {
		if (shared == SIZE_MAX) {
			first = k;
			shared = k.size;
		}
		size_t i = 0;
		while (i < shared && i < k.size && k[i] == first[i])
			i++;
		shared = i;
	});
	size_t n = 0;
	for_each_key([&](ByteView k, size_t offset) {
		uint32_t prefix = 0;
		for (size_t i = shared; i < shared + 4; i++)
			prefix = prefix << 8 | (i < k.size ? k[i] : 0);
		slots_[n++] = uint64_t(prefix) << 32 | (offset + 1);
	});
	if (n != count_)
		throw std::logic_error("KeySet: the arena does not hold every key");
	slots_.resize(n);
	auto key = [this](uint64_t v) { return at(static_cast<size_t>((v & 0xFFFFFFFFu) - 1)); };
	auto less = [&](uint64_t a, uint64_t b) {
		if ((a >> 32) != (b >> 32))
			return a < b;
		ByteView x = key(a), y = key(b);
		int c = std::memcmp(x.data, y.data, std::min(x.size, y.size));
		return c < 0 || (c == 0 && x.size < y.size);
	};
	// Two sorted runs, [0, half) and [half, n): a big set's first half is
	// sorted on a helper thread meanwhile (the rebuild leaves the other
	// core idle); the visit below merges them.
	auto begin = slots_.begin();
	size_t half = n;
	if (n >= PARALLEL_SORT_FROM) {
		half = n / 2;
		std::thread helper;
		try {
			helper = start_quiet_thread([&] { std::sort(begin, begin + static_cast<std::ptrdiff_t>(half), less); });
		} catch (const std::system_error &) {
			std::sort(begin, begin + static_cast<std::ptrdiff_t>(half), less); // no thread to be had
		}
		std::sort(begin + static_cast<std::ptrdiff_t>(half), slots_.end(), less);
		if (helper.joinable())
			helper.join();
	} else {
		std::sort(begin, slots_.end(), less);
	}
	// Keys come in sorted order, so from all over the arena: the merge
	// picks a batch of them, their lines are fetched all at once (the
	// memory system overlaps the misses), then they are visited.
	constexpr size_t BATCH = 64;
	size_t picked[BATCH];
	for (size_t i = 0, j = half; i < half || j < n;) {
		size_t m = 0;
		for (; m < BATCH && (i < half || j < n); m++) {
			picked[m] = j == n || (i < half && !less(slots_[j], slots_[i])) ? i++ : j++;
			size_t offset = static_cast<size_t>((slots_[picked[m]] & 0xFFFFFFFFu) - 1);
			__builtin_prefetch(blocks_[offset / BLOCK] + offset % BLOCK);
		}
		for (size_t b = 0; b < m; b++) {
			ByteView k = key(slots_[picked[b]]);
			visit(k, k.data + k.size);
		}
	}
}

} // namespace qmdb
