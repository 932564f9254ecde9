// The sync engine on the family's other kinds, after upstream's sync tests
// for them (immutable/sync/tests.rs, keyless/sync/tests.rs): a nonzero
// floor, a one-operation range, invalid responses, and an ordered database
// synced and written on.
#include "sync_harness.h"

using namespace qmdb;
using namespace qmdb::sync;
using namespace qmdb::test;

namespace {

OpFormat
kind_format(DbKind kind, std::optional<uint32_t> key_size, std::optional<uint32_t> value_size) {
	OpFormat f;
	f.kind = kind;
	f.encoding = Encoding::Variable;
	f.key_size = key_size;
	f.value_size = value_size;
	return f;
}

EngineConfig
kind_config(const OpFormat &format, uint64_t batch, uint64_t outstanding = 1) {
	EngineConfig c = config(batch, outstanding);
	c.format = format;
	return c;
}

// n random (key, value) digests, as upstream's create_ops_seeded.
Mutations
random_sets(size_t n, uint64_t seed) {
	std::mt19937_64 rng(seed);
	Mutations m;
	while (m.size() < n)
		m[bytes_of(to_digest(rng()))] = bytes_of(to_val(rng(), seed));
	return m;
}

// The synced database (from 0 there may have been no boundary answer, so
// no pinned nodes: none are needed).
MemoryDb
synced_db(SyncRun &run, const OpFormat &format, const Target &t) {
	const std::optional<std::vector<Digest>> &pins = run.engine->pinned_nodes();
	return MemoryDb::from_sync_result(format, t.start, run.journal_ops(t.start), pins ? *pins : std::vector<Digest>{});
}

} // namespace

// Upstream's test_sync_nonzero_floor: the second batch declares the first
// inactive; a client synced over the whole history has that floor, finds
// the second batch's keys and none of the first's.
TEST(FamilySync, ImmutableNonzeroFloor) {
	OpFormat f = kind_format(DbKind::Immutable, 32, 32);
	MemoryDb source(f);
	Mutations early = random_sets(50, 0), late = random_sets(50, 1);
	source.apply_sets(early, std::nullopt, source.floor());
	uint64_t first_commit_end = source.size();
	source.apply_sets(late, bytes_of(to_digest(1)), first_commit_end);
	ASSERT_EQ(source.floor(), first_commit_end);
	Target t{source.root(), 0, source.size()};
	SyncRun run(kind_config(f, 16, 2), t);
	ASSERT_EQ(run.run(honest(source)), StepResult::Complete);
	MemoryDb synced = synced_db(run, f, t);
	EXPECT_EQ(synced.root(), t.root);
	EXPECT_EQ(synced.floor(), first_commit_end);
	for (const auto &s : late)
		EXPECT_EQ(synced.get(s.first), s.second);
	for (const auto &s : early)
		EXPECT_EQ(synced.get(s.first), std::nullopt);
	EXPECT_EQ(synced.snapshot(), source.snapshot()); // the source's own reads agree
}

// Upstream's test_replay_sync_single_op_range: a source pruned to a commit
// that declares its own location as the floor leaves one operation to
// sync; the client reproduces the root, the bounds and the metadata.
TEST(FamilySync, KeylessSingleOperationRange) {
	OpFormat f = kind_format(DbKind::Keyless, std::nullopt, std::nullopt);
	MemoryDb source(f);
	source.apply_appends({{1, 2, 3}, {4, 5, 6}}, std::nullopt, 0);
	uint64_t floor = source.size();
	source.apply_appends({}, Bytes{7, 7}, floor);
	source.prune(floor);
	Target t = source.target();
	ASSERT_EQ(t.start, floor);
	ASSERT_EQ(t.end - t.start, 1u);
	SyncRun run(kind_config(f, 2, 2), t);
	ASSERT_EQ(run.run(honest(source)), StepResult::Complete);
	MemoryDb synced = synced_db(run, f, t);
	EXPECT_EQ(synced.root(), t.root);
	EXPECT_EQ(synced.pruning_boundary(), t.start);
	EXPECT_EQ(synced.size(), t.end);
	Operation last = synced.op(t.end - 1);
	EXPECT_EQ(last.kind, OpKind::CommitFloor);
	EXPECT_EQ(last.metadata, (Bytes{7, 7}));
	EXPECT_EQ(last.floor, floor);
}

// Upstream's test_engine_rejects_invalid_responses, per arm: a proof with
// an extra digest, an empty batch and a batch larger than asked are
// rejected; the same request answered well afterwards completes the sync.
TEST(FamilySync, KeylessRejectsInvalidResponses) {
	OpFormat f = kind_format(DbKind::Keyless, std::nullopt, std::nullopt);
	MemoryDb source(f);
	source.apply_appends({{1}, {2, 2}, {3, 3, 3}}, Bytes{42}, 0);
	Target t{source.root(), 0, source.size()};
	using Spoil = std::function<void(Response &)>;
	const std::pair<const char *, Spoil> arms[] = {
	    {"extra proof digest", [](Response &r) { r.proof.digests.push_back(Digest{}); }},
	    {"empty batch", [](Response &r) { r.operations.clear(); }},
	    {"more than max_ops",
	     [&](Response &r) { r.operations.push_back(source.op_bytes(r.operations.size() % source.size())); }},
	    {"a flipped operation byte", [](Response &r) { r.operations.back().back() ^= 1; }},
	};
	for (const auto &arm : arms) {
		SyncRun run(kind_config(f, source.size()), t);
		bool spoiled = false;
		SourceFn once_bad = [&](const Request &r) {
			Response resp = source.serve(r);
			if (!spoiled && r.kind == RequestKind::Operations) {
				arm.second(resp);
				spoiled = true;
			}
			return Answer{resp, false};
		};
		ASSERT_EQ(run.run(once_bad), StepResult::Complete) << arm.first;
		ASSERT_TRUE(spoiled) << arm.first;
		ASSERT_FALSE(run.verdicts.empty());
		EXPECT_EQ(run.verdicts.front(), Verdict::Rejected) << arm.first;
		EXPECT_EQ(run.verdicts.back(), Verdict::Accepted) << arm.first;
		SCOPED_TRACE(arm.first);
		EXPECT_EQ(synced_db(run, f, t).root(), t.root);
	}
}

// An ordered database synced from a pruned source, then written on by
// both: the same roots, so every next_key the replica derives from its
// synced state agrees with the source's.
TEST(FamilySync, OrderedSyncedThenWritten) {
	OpFormat f = kind_format(DbKind::Ordered, 32, 32);
	MemoryDb source(f);
	std::mt19937_64 rng(5);
	for (int b = 0; b < 40; b++) {
		Mutations m;
		for (int i = 0; i < 6; i++) {
			Bytes k = bytes_of(to_digest(rng() % 48));
			m[k] = rng() % 4 == 0 ? std::nullopt : std::optional<Bytes>(bytes_of(to_val(rng(), 1)));
		}
		source.apply_batch(m);
	}
	Target t = source.target();
	source.prune(t.start);
	SyncRun run(kind_config(f, 7, 3), t);
	ASSERT_EQ(run.run(honest(source)), StepResult::Complete);
	MemoryDb synced = synced_db(run, f, t);
	EXPECT_EQ(synced.root(), t.root);
	EXPECT_EQ(synced.snapshot(), source.snapshot());
	for (int b = 0; b < 5; b++) {
		Mutations m = {{bytes_of(to_digest(100 + b)), bytes_of(to_val(b, 2))},
		               {source.snapshot().begin()->first, std::nullopt}};
		EXPECT_EQ(synced.apply_batch(m).root, source.apply_batch(m).root) << "batch " << b;
	}
}
