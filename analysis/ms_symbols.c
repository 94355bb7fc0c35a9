/* ms_symbols.c: offline symbolization with libdwfl (elfutils) from a run's maps.txt. */
#include "ms_symbols.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <stdlib.h>
#include <string.h>

#include "ms_hmap.h"

/* One module as loaded at one base: a Dwfl of its own, so that the same path mapped at two
 * bases in two snapshots (dlclose, dlopen again) never overlaps inside one Dwfl. */
typedef struct module_s {
  char *path;
  uint64_t base;
  Dwfl *dwfl;        /* NULL when libdwfl could not use the file */
  Dwfl_Module *mod;
} module_t;

typedef struct cached_s {
  const char *function, *file, *module, *inlined;
  int line;
  uint64_t offset;
} cached_t;

struct ms_symbolizer_s {
  const ms_maps_t *maps;
  ms_hmap_t cache;   /* (address << 1 | resolve) -> cached_t */
  ms_hmap_t strings; /* FNV-1a hash -> char * (interned strings) */
  char **extra;      /* strings whose hash collided with another: owned here */
  size_t nextra, capextra;
  module_t *mods;
  size_t nmods, capmods;
};

static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

int ms_symbolizer_new(const ms_maps_t *maps, ms_symbolizer_t **out) {
  ms_symbolizer_t *s = calloc(1, sizeof *s);
  if (!s)
    return MS_TRACE_E_NOMEM;
  s->maps = maps;
  ms__hmap_init(&s->cache, sizeof(cached_t));
  ms__hmap_init(&s->strings, sizeof(char *));
  *out = s;
  return 0;
}

void ms_symbolizer_free(ms_symbolizer_t *s) {
  if (!s)
    return;
  size_t pos = 0;
  void *v;
  while (ms__hmap_next(&s->strings, &pos, NULL, &v))
    free(*(char **)v);
  ms__hmap_destroy(&s->strings);
  ms__hmap_destroy(&s->cache);
  for (size_t i = 0; i < s->nextra; i++)
    free(s->extra[i]);
  free(s->extra);
  for (size_t i = 0; i < s->nmods; i++) {
    if (s->mods[i].dwfl)
      dwfl_end(s->mods[i].dwfl);
    free(s->mods[i].path);
  }
  free(s->mods);
  free(s);
}

size_t ms_symbolizer_cached(const ms_symbolizer_t *s) { return s->cache.count; }
size_t ms_symbolizer_modules(const ms_symbolizer_t *s) { return s->nmods; }

/* Interns a string; "" when it is NULL or memory runs out (a missing name, never a crash). */
static const char *intern(ms_symbolizer_t *s, const char *str) {
  if (!str || !*str)
    return "";
  uint64_t h = 0xcbf29ce484222325ull;
  for (const unsigned char *p = (const unsigned char *)str; *p; p++)
    h = (h ^ *p) * 0x100000001b3ull;
  int existed;
  char **slot = ms__hmap_put(&s->strings, h, &existed);
  if (!slot)
    return "";
  if (existed) {
    if (!strcmp(*slot, str))
      return *slot;
    /* A hash collision: keep the string outside the table. */
    if (ms__grow(&s->extra, &s->capextra, s->nextra, sizeof *s->extra, 8))
      return "";
    char *d = strdup(str);
    if (!d)
      return "";
    s->extra[s->nextra++] = d;
    return d;
  }
  *slot = strdup(str);
  if (!*slot) {
    ms__hmap_del(&s->strings, h, NULL);
    return "";
  }
  return *slot;
}

/* The C++ ABI's demangler, from libstdc++ (what heaptrack, c++filt and LSan's reports use);
 * it has C linkage. */
extern char *__cxa_demangle(const char *mangled, char *out, size_t *len, int *status);

/* `name` interned, demangled when it is a C++ ("_Z") name the demangler takes; as it is
 * otherwise (C names, and anything that does not demangle). */
static const char *demangled(ms_symbolizer_t *s, const char *name) {
  if (!name || name[0] != '_' || name[1] != 'Z')
    return intern(s, name);
  int status = -1;
  char *d = __cxa_demangle(name, NULL, NULL, &status);
  const char *r = intern(s, status == 0 && d ? d : name);
  free(d);
  return r;
}

/* The libdwfl module of `path` loaded at `base`, reported on first use. NULL when the file
 * is not usable (missing, not ELF, a pseudo path such as [vdso]). */
static Dwfl_Module *module_for(ms_symbolizer_t *s, const char *path, uint64_t base) {
  for (size_t i = 0; i < s->nmods; i++)
    if (s->mods[i].base == base && !strcmp(s->mods[i].path, path))
      return s->mods[i].mod;
  if (ms__grow(&s->mods, &s->capmods, s->nmods, sizeof *s->mods, 16))
    return NULL;
  module_t *m = &s->mods[s->nmods];
  memset(m, 0, sizeof *m);
  m->path = strdup(path);
  if (!m->path)
    return NULL;
  m->base = base;
  s->nmods++;
  if (path[0] != '/') /* "", [heap], [vdso], [anon:...]: nothing on disk to read */
    return NULL;
  m->dwfl = dwfl_begin(&callbacks);
  if (!m->dwfl)
    return NULL;
  dwfl_report_begin(m->dwfl);
  const char *name = strrchr(path, '/') + 1;
  /* add_p_vaddr false: `base` is where the lowest PT_LOAD segment starts (the mapping of
   * file offset 0), which is what maps.txt shows for a shared object or PIE. */
  m->mod = dwfl_report_elf(m->dwfl, name, path, -1, (GElf_Addr)base, false);
  dwfl_report_end(m->dwfl, NULL, NULL);
  return m->mod;
}

/* From the module's DWARF: the function whose code holds pc (the outermost
 * DW_TAG_subprogram scope) and, when pc is in code inlined there, the innermost inlined
 * function (names through DW_AT_abstract_origin). Both NULL without debug info. The strings
 * belong to libdw. The function, not the inlined callee, names the frame: it is what the
 * symbol table says in a build without debug info, so reports agree across build types. */
/* A DIE's name for reports: the linkage (mangled) name where there is one, so that a C++
 * function comes out qualified and with its parameters once demangled (DW_AT_name is only
 * "push_back"); the plain name otherwise (C). Both follow abstract_origin/specification. */
static const char *die_name(Dwarf_Die *die) {
  Dwarf_Attribute attr;
  const char *ln = NULL;
  if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
      dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
    ln = dwarf_formstring(&attr);
  return ln ? ln : dwarf_diename(die);
}

static void dwarf_function(Dwfl_Module *mod, uint64_t pc, const char **function,
                           const char **inlined) {
  *function = *inlined = NULL;
  Dwarf_Addr bias = 0;
  Dwarf_Die *cu = dwfl_module_addrdie(mod, pc, &bias);
  if (!cu)
    return;
  Dwarf_Die *scopes = NULL;
  int n = dwarf_getscopes(cu, pc - bias, &scopes); /* innermost first */
  for (int i = 0; i < n; i++) {
    int tag = dwarf_tag(&scopes[i]);
    if (tag == DW_TAG_inlined_subroutine && !*inlined && !*function)
      *inlined = die_name(&scopes[i]);
    else if (tag == DW_TAG_subprogram)
      *function = die_name(&scopes[i]);
  }
  free(scopes);
}

void ms_symbolize(ms_symbolizer_t *s, uint64_t ret, int resolve, ms_frame_t *out) {
  memset(out, 0, sizeof *out);
  out->address = ret;
  out->function = out->file = out->module = out->inlined = "";
  uint64_t key = ret << 1 | (resolve ? 1 : 0);
  cached_t *c = ms__hmap_get(&s->cache, key);
  if (c) {
    out->function = c->function;
    out->file = c->file;
    out->line = c->line;
    out->module = c->module;
    out->module_offset = c->offset;
    out->inlined = c->inlined;
    return;
  }
  /* A return address points after the call; minus one lands inside the call instruction,
   * so the line is the call's. */
  uint64_t pc = ret ? ret - 1 : 0;
  const char *path = NULL;
  uint64_t off = 0;
  cached_t r = {"", "", "", "", 0, 0};
  if (ret && ms_maps_lookup(s->maps, pc, &path, &off)) {
    r.module = intern(s, path);
    r.offset = off;
    Dwfl_Module *mod = resolve && off <= pc ? module_for(s, path, pc - off) : NULL;
    if (mod) {
      GElf_Off symoff;
      GElf_Sym sym;
      /* The name the debug info gives, else the ELF symbol table's. */
      const char *fn, *inl;
      dwarf_function(mod, pc, &fn, &inl);
      if (!fn)
        fn = dwfl_module_addrinfo(mod, pc, &symoff, &sym, NULL, NULL, NULL);
      r.function = demangled(s, fn);
      r.inlined = demangled(s, inl);
      Dwfl_Line *line = dwfl_module_getsrc(mod, pc);
      if (line) {
        int lineno = 0;
        const char *file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
        r.file = intern(s, file);
        r.line = lineno;
      }
    }
  }
  c = ms__hmap_put(&s->cache, key, NULL);
  if (c) /* out of memory only loses the cache entry */
    *c = r;
  out->function = r.function;
  out->file = r.file;
  out->line = r.line;
  out->module = r.module;
  out->module_offset = r.offset;
  out->inlined = r.inlined;
}
