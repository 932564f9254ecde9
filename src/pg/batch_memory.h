// Serving and syncing pass responses of hundreds of kilobytes through
// malloc (palloc's big chunks, libpq's results, the bytea send copies).
// By default glibc maps each allocation over 128 KiB afresh and hands free
// memory at the heap's top back to the OS, so every response faulted its
// pages in again: measured, a third of a serving backend's time (faults
// cost microseconds on a virtual machine). keep_batch_memory() raises both
// thresholds for this process, so freed batches are reused instead: a
// process keeps up to about 32 MiB of free heap it would otherwise return.
#pragma once

namespace qmdb::pg {

// Once per process (later calls do nothing). Called by qmdb.serve and the
// sync worker, so only processes that move batches are affected.
void keep_batch_memory();

} // namespace qmdb::pg
