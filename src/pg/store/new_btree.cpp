#include "new_btree.h"
#include "new_file.h"

extern "C" {
#include "access/multixact.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "catalog/index.h"
#include "commands/vacuum.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "storage/smgr.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
}

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace qmdb::pg {

namespace {

// A tuple's item on a page at `offset`. The first item of every internal
// page is a minus infinity downlink: the header alone, no key (nbtree's
// rule; the page's high key on the left says where it starts).
void
add_item(Page page, IndexTuple tuple, OffsetNumber offset, bool minus_infinity) {
	IndexTupleData bare;
	Size size = IndexTupleSize(tuple);
	if (minus_infinity) {
		bare = *tuple;
		bare.t_info = sizeof(IndexTupleData);
		BTreeTupleSetNAtts(&bare, 0, false);
		tuple = &bare;
		size = sizeof(IndexTupleData);
	}
	if (PageAddItem(page, reinterpret_cast<Item>(tuple), size, offset, false, false) == InvalidOffsetNumber)
		elog(ERROR, "failed to add an item to a new btree page");
}

// The level's last page has no high key: its items move down one slot.
void
drop_high_key_slot(Page page) {
	OffsetNumber max = PageGetMaxOffsetNumber(page);
	if (max < P_FIRSTKEY) {
		// Only the reserved slot: an empty page.
		reinterpret_cast<PageHeader>(page)->pd_lower -= sizeof(ItemIdData);
		return;
	}
	ItemId prev = PageGetItemId(page, P_HIKEY);
	for (OffsetNumber off = P_FIRSTKEY; off <= max; off = OffsetNumberNext(off)) {
		ItemId id = PageGetItemId(page, off);
		*prev = *id;
		prev = id;
	}
	reinterpret_cast<PageHeader>(page)->pd_lower -= sizeof(ItemIdData);
}

} // namespace

NewBtree::NewBtree(const std::string &table, const std::string &index) {
	pg_call([&] {
		heap_ = open_new_relation(table, false);
		index_ = open_new_relation(index, true);
		if (index_->rd_rel->relam != BTREE_AM_OID || !index_->rd_index->indisunique ||
		    IndexRelationGetNumberOfAttributes(index_) != 1 ||
		    TupleDescAttr(RelationGetDescr(index_), 0)->atttypid != BYTEAOID ||
		    index_->rd_index->indrelid != RelationGetRelid(heap_))
			elog(ERROR, "qmdb.%s is not a unique btree on one bytea column of qmdb.%s", index.c_str(), table.c_str());
		context_ = AllocSetContextCreate(CurrentMemoryContext, "qmdb new btree", ALLOCSET_DEFAULT_SIZES);
		file_.emplace(index_, context_);
		// An empty build leaves the metapage alone in the file.
		if (file_->blocks() != 1)
			elog(ERROR, "qmdb.%s is not empty", index.c_str());
		// Nothing of it may be in shared buffers (a page read back since
		// the empty build would hide what is written here): drop any.
		ForkNumber fork = MAIN_FORKNUM;
		BlockNumber first = 0;
		DropRelFileNodeBuffers(RelationGetSmgr(index_), &fork, 1, &first);
		key_context_ = AllocSetContextCreate(context_, "qmdb new btree key", ALLOCSET_SMALL_SIZES);
		MemoryContext old = MemoryContextSwitchTo(context_);
		BTScanInsert scan_key = _bt_mkscankey(index_, nullptr);
		// As CREATE INDEX decides it (deduplication may be used later).
		scan_key->allequalimage = _bt_allequalimage(index_, false);
		scan_key_ = scan_key;
		MemoryContextSwitchTo(old);
	});
}

char *
NewBtree::new_page(uint32 level) {
	// Caller is inside pg_call.
	Page page = static_cast<Page>(MemoryContextAlloc(context_, BLCKSZ));
	_bt_pageinit(page, BLCKSZ);
	BTPageOpaque opaque = BTPageGetOpaque(page);
	opaque->btpo_prev = P_NONE;
	opaque->btpo_next = P_NONE;
	opaque->btpo_level = level;
	opaque->btpo_flags = level == 0 ? BTP_LEAF : 0;
	opaque->btpo_cycleid = 0;
	// The high key's slot (offset 1) is kept free until the page is done.
	reinterpret_cast<PageHeader>(page)->pd_lower += sizeof(ItemIdData);
	return static_cast<char *>(page);
}

void
NewBtree::start_level() {
	// Caller is inside pg_call.
	if (level_count_ == MAX_LEVELS)
		elog(ERROR, "btree of qmdb.%s is too deep", RelationGetRelationName(index_));
	uint32 level = static_cast<uint32>(level_count_);
	Level &l = levels_[level_count_++];
	l.page = new_page(level);
	l.block = next_block_++;
	l.low_key = nullptr;
	l.last = P_HIKEY;
	// Leaves to the index's fillfactor, upper pages to 70%, as CREATE INDEX.
	l.full = level == 0 ? BTGetTargetPageFreeSpace(index_) : BLCKSZ * (100 - BTREE_NONLEAF_FILLFACTOR) / 100;
}

void
NewBtree::write_page(char *page, BlockNumber block) {
	// Caller is inside pg_call. Pages are finished out of block order (a
	// parent after its children).
	file_->write(page, block);
	pfree(page);
}

void
NewBtree::add_to_level(int level, IndexTuple tuple) {
	// Caller is inside pg_call.
	Level *l = &levels_[level];
	Page page = static_cast<Page>(l->page);
	bool leaf = level == 0;
	Size size = MAXALIGN(IndexTupleSize(tuple));
	if (size > BTMaxItemSize(page)) // raises the error CREATE INDEX would
		_bt_check_third_page(index_, heap_, leaf, page, tuple);
	Size free_space = PageGetFreeSpace(page);
	// A leaf's high key may get a heap TID appended by truncation: room for
	// it. Past the fillfactor, a page is done once it has two items.
	if (free_space < size + (leaf ? MAXALIGN(sizeof(ItemPointerData)) : 0) ||
	    (free_space < l->full && l->last > P_FIRSTKEY)) {
		char *next = new_page(static_cast<uint32>(level));
		BlockNumber next_block = next_block_++;
		// The last item moves to the new page; on the old one, its copy
		// becomes the high key (on a leaf, cut to what tells the two pages
		// apart).
		ItemId last_id = PageGetItemId(page, l->last);
		IndexTuple moved = reinterpret_cast<IndexTuple>(PageGetItem(page, last_id));
		add_item(static_cast<Page>(next), moved, P_FIRSTKEY, !leaf);
		ItemId high_id = PageGetItemId(page, P_HIKEY);
		*high_id = *last_id;
		ItemIdSetUnused(last_id);
		reinterpret_cast<PageHeader>(page)->pd_lower -= sizeof(ItemIdData);
		IndexTuple high_key = moved;
		if (leaf) {
			IndexTuple last_left =
			    reinterpret_cast<IndexTuple>(PageGetItem(page, PageGetItemId(page, OffsetNumberPrev(l->last))));
			IndexTuple cut = _bt_truncate(index_, last_left, moved, static_cast<BTScanInsert>(scan_key_));
			if (!PageIndexTupleOverwrite(page, P_HIKEY, reinterpret_cast<Item>(cut), IndexTupleSize(cut)))
				elog(ERROR, "failed to add a high key to a new btree page");
			pfree(cut);
			high_key = reinterpret_cast<IndexTuple>(PageGetItem(page, PageGetItemId(page, P_HIKEY)));
		}
		// The finished page's downlink goes up, keyed by its low key.
		if (level + 1 == level_count_)
			start_level();
		l = &levels_[level];
		BTreeTupleSetDownLink(l->low_key, l->block);
		add_to_level(level + 1, l->low_key);
		pfree(l->low_key);
		l->low_key = CopyIndexTuple(high_key); // the new page's lower bound
		BTPageGetOpaque(page)->btpo_next = next_block;
		BTPageGetOpaque(static_cast<Page>(next))->btpo_prev = l->block;
		write_page(l->page, l->block);
		l->page = next;
		l->block = next_block;
		l->last = P_FIRSTKEY;
		page = static_cast<Page>(next);
	}
	if (l->last == P_HIKEY) {
		// The first item of the level: its page's low key is minus infinity.
		l->low_key = static_cast<IndexTuple>(MemoryContextAllocZero(context_, sizeof(IndexTupleData)));
		l->low_key->t_info = sizeof(IndexTupleData);
		BTreeTupleSetNAtts(l->low_key, 0, false);
	}
	l->last = OffsetNumberNext(l->last);
	add_item(page, tuple, l->last, !leaf && l->last == P_FIRSTKEY);
}

void
NewBtree::add(ByteView key, ItemPointerData row) {
	if (keys_ > 0) {
		int c = std::memcmp(last_key_, key.data, std::min(last_size_, key.size));
		if (c > 0 || (c == 0 && last_size_ >= key.size))
			throw std::logic_error("NewBtree::add: keys out of order or repeated");
	}
	pg_call([&] {
		MemoryContext old = MemoryContextSwitchTo(key_context_);
		bytea *datum = static_cast<bytea *>(palloc(VARHDRSZ + key.size));
		SET_VARSIZE(datum, VARHDRSZ + key.size);
		if (key.size)
			std::memcpy(VARDATA(datum), key.data, key.size);
		Datum value = PointerGetDatum(datum);
		bool null = false;
		IndexTuple tuple = index_form_tuple(RelationGetDescr(index_), &value, &null);
		tuple->t_tid = row;
		MemoryContextSwitchTo(context_);
		if (level_count_ == 0)
			start_level();
		add_to_level(0, tuple);
		if (last_capacity_ < key.size) {
			last_capacity_ = std::max(key.size, size_t(64));
			last_key_ = static_cast<char *>(last_key_ ? repalloc(last_key_, last_capacity_) : palloc(last_capacity_));
		}
		if (key.size)
			std::memcpy(last_key_, key.data, key.size);
		last_size_ = key.size;
		MemoryContextSwitchTo(old);
		MemoryContextReset(key_context_);
	});
	keys_++;
}

void
NewBtree::finish() {
	pg_call([&] {
		MemoryContext old = MemoryContextSwitchTo(context_);
		// Close each level's last page, bottom up: its downlink goes on the
		// level above (which may add a level), and the top one is the root.
		BlockNumber root = P_NONE;
		uint32 root_level = 0;
		for (int i = 0; i < level_count_; i++) {
			Level &l = levels_[i];
			Page page = static_cast<Page>(l.page);
			if (i + 1 == level_count_) {
				BTPageGetOpaque(page)->btpo_flags |= BTP_ROOT;
				root = l.block;
				root_level = static_cast<uint32>(i);
			} else {
				BTreeTupleSetDownLink(l.low_key, l.block);
				add_to_level(i + 1, l.low_key);
			}
			drop_high_key_slot(page);
			write_page(levels_[i].page, levels_[i].block);
		}
		char *meta = static_cast<char *>(MemoryContextAlloc(context_, BLCKSZ));
		_bt_initmetapage(static_cast<Page>(meta), root, root_level,
		                 static_cast<BTScanInsert>(scan_key_)->allequalimage);
		write_page(meta, BTREE_METAPAGE);
		file_->sync();
		// The relcache may hold the empty build's metapage.
		CacheInvalidateRelcache(index_);
		// The sizes CREATE INDEX records, for the planner until ANALYZE.
		double n = static_cast<double>(keys_);
		vac_update_relstats(index_, file_->blocks(), n, 0, false, InvalidTransactionId, InvalidMultiXactId, nullptr,
		                    nullptr, true);
		vac_update_relstats(heap_, RelationGetNumberOfBlocks(heap_), n, 0, true, InvalidTransactionId,
		                    InvalidMultiXactId, nullptr, nullptr, true);
		MemoryContextSwitchTo(old);
		index_close(index_, NoLock);
		table_close(heap_, NoLock);
		index_ = nullptr;
		heap_ = nullptr;
		MemoryContextDelete(context_);
		context_ = nullptr;
	});
}

} // namespace qmdb::pg
