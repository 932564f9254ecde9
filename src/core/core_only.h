// Included last by every src/core source file: src/core is plain C++17 and
// must stay testable without a server, so no PostgreSQL header may reach it
// through any include above. (The Makefile's check-core target greps too.)
#pragma once
#if defined(POSTGRES_H) || defined(PG_MODULE_MAGIC) || defined(FMGR_H)
#error "src/core must not include PostgreSQL headers (see DESIGN §3)"
#endif
