#include "new_file.h"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "access/xloginsert.h"
#include "catalog/namespace.h"
#include "nodes/makefuncs.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "storage/smgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
}

namespace qmdb::pg {

Relation
open_new_relation(const std::string &name, bool index) {
	RangeVar *rv = makeRangeVar(const_cast<char *>("qmdb"), const_cast<char *>(name.c_str()), -1);
	Relation rel = index ? index_open(RangeVarGetRelid(rv, AccessExclusiveLock, false), AccessExclusiveLock)
	                     : table_openrv(rv, AccessExclusiveLock);
	if (rel->rd_createSubid == InvalidSubTransactionId && rel->rd_firstRelfilenodeSubid == InvalidSubTransactionId)
		elog(ERROR, "qmdb.%s was not created in this transaction", name.c_str());
	return rel;
}

NewFile::NewFile(Relation rel, MemoryContext context)
    : rel_(rel), context_(context), blocks_(RelationGetNumberOfBlocks(rel)) {}

void
NewFile::write(char *page, BlockNumber block) {
	if (RelationNeedsWAL(rel_))
		log_newpage(&rel_->rd_node, MAIN_FORKNUM, block, static_cast<Page>(page), true);
	SMgrRelation smgr = RelationGetSmgr(rel_);
	while (block > blocks_) {
		if (!zero_page_)
			zero_page_ = static_cast<char *>(MemoryContextAllocZero(context_, BLCKSZ));
		smgrextend(smgr, MAIN_FORKNUM, blocks_++, zero_page_, true);
	}
	PageSetChecksumInplace(static_cast<Page>(page), block);
	if (block == blocks_) {
		smgrextend(smgr, MAIN_FORKNUM, block, page, true);
		blocks_++;
	} else {
		smgrwrite(smgr, MAIN_FORKNUM, block, page, true);
	}
}

void
NewFile::sync() {
	if (RelationNeedsWAL(rel_))
		smgrimmedsync(RelationGetSmgr(rel_), MAIN_FORKNUM);
}

} // namespace qmdb::pg
