/* ms_symbols.h: offline symbolization of recorded return addresses to function, file, line
 * and module, with elfutils libdw (libdwfl), from the module map the run recorded.
 *
 * The traced process is gone, so modules are reported to libdwfl one by one from maps.txt
 * (dwfl_report_elf with the load base of the mapping that holds the address, and the file
 * opened here only if it is a regular file: a trace is data and may name a FIFO).
 * Function names come from the ELF symbol tables (.symtab, else .dynsym) or DWARF; file and
 * line from DWARF when the module or a separate debug file (/usr/lib/debug, build id) has it.
 * Results are cached per address. Not thread-safe. */
#ifndef MS_SYMBOLS_H
#define MS_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

#include "ms_trace.h"

typedef struct ms_frame_s {
  uint64_t address;       /* return address as recorded */
  const char *function;   /* "" when unknown */
  const char *file;       /* "" when unknown */
  int line;               /* 0 when unknown */
  const char *module;     /* mapped file, "" when unknown */
  uint64_t module_offset; /* file offset of address - 1 in module (0 when no module) */
  const char *inlined;    /* the innermost function inlined at the call, "" when none (or
                           * no debug info); `function` is the function the code is in */
} ms_frame_t;

typedef struct ms_symbolizer_s ms_symbolizer_t;

/* A symbolizer over `maps` (kept by reference: it must outlive the symbolizer). 0 or
 * MS_TRACE_E_NOMEM. */
int ms_symbolizer_new(const ms_maps_t *maps, ms_symbolizer_t **out);
void ms_symbolizer_free(ms_symbolizer_t *s);

/* Resolves one recorded return address. Strings in *out are owned by the symbolizer and live
 * until ms_symbolizer_free. `resolve` 0 fills only address, module and offset (no libdw).
 * Never fails: what cannot be resolved is "" / 0. */
void ms_symbolize(ms_symbolizer_t *s, uint64_t return_address, int resolve, ms_frame_t *out);

/* Addresses resolved so far (distinct), and the modules libdw was given. */
size_t ms_symbolizer_cached(const ms_symbolizer_t *s);
size_t ms_symbolizer_modules(const ms_symbolizer_t *s);

/* Files the trace named that were not used because they are not regular files (a FIFO, a
 * device, a directory, or a link to one): a module (its frames are left unsymbolized), a
 * debug file (skipped), a file libdw would open by itself (the module's DWARF is not read).
 * One line each, without a trailing newline, at most 100; NULL past the end. */
size_t ms_symbolizer_nwarnings(const ms_symbolizer_t *s);
const char *ms_symbolizer_warning(const ms_symbolizer_t *s, size_t i);

#endif /* MS_SYMBOLS_H */
