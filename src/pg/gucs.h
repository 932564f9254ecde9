// Configuration parameters (GUCs) of pg_qmdb.
#pragma once

namespace qmdb::pg {

// Most operations one qmdb.serve request may ask for (Operations.max_ops).
extern int max_serve_ops;
// Largest encoded response qmdb.serve will build, in bytes.
extern int max_response_bytes;

// Ignored since 0.2.0: the launcher covers every database.
extern char *launcher_database;

void define_gucs();

} // namespace qmdb::pg
