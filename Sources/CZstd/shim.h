// The system libzstd (apt: libzstd-dev).
#include <zstd.h>
