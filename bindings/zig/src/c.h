/* Translated by build.zig into the module "c" that src/bitask.zig imports.
 * The include path comes from pkg-config (or -Dinclude-dir). */
#include <bitask.h>
