// oneDNN's C API (Debian libdnnl-dev 2.6). Only the C header is imported.
#include <dnnl.h>
