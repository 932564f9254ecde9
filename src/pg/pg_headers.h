// The one way src/pg includes PostgreSQL: C linkage, and a guard against
// port.h's printf/snprintf macros meeting <cstdio> in the wrong order.
#pragma once

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
}
