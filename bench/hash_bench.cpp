// Hashing throughput of the SHA-256 wrapper: MMR leaf and node digests, and
// the implicit-fetch OpenSSL style side by side to show why contexts are reused.
#include "core/hash.h"

#include <benchmark/benchmark.h>
#include <openssl/evp.h>

using namespace qmdb;

static void
BM_Leaf(benchmark::State &state) {
	Hasher h;
	Bytes op(65, 0xd2);
	uint64_t pos = 0;
	for (auto _ : state)
		benchmark::DoNotOptimize(h.leaf(pos++, op));
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Leaf);

static void
BM_Node(benchmark::State &state) {
	Hasher h;
	Digest a{}, b{};
	uint64_t pos = 0;
	for (auto _ : state) {
		a = h.node(pos++, a, b);
		benchmark::DoNotOptimize(a);
	}
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Node);

// The slow style: EVP_Digest with the implicitly fetched EVP_sha256() and a
// fresh context per call.
static void
BM_NodeImplicitFetch(benchmark::State &state) {
	unsigned char buf[72] = {0}, out[32];
	unsigned int len;
	for (auto _ : state) {
		EVP_Digest(buf, sizeof(buf), out, &len, EVP_sha256(), nullptr);
		buf[0]++;
		benchmark::DoNotOptimize(out);
	}
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NodeImplicitFetch);

BENCHMARK_MAIN();
