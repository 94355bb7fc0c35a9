/* ms_symbols.c: offline symbolization with libdwfl (elfutils) from a run's maps.txt.
 *
 * Every file a trace names (the modules of maps.txt, and through them separate debug files
 * and dwz alt files) is opened only when it is a regular file, so a hostile trace naming a
 * FIFO, /dev/zero or a directory cannot hang or mislead the analysis: the module and the
 * debug files are opened here (open_named) and handed to libdwfl as descriptors, and the alt
 * file libdw would open by itself is checked first, the module's DWARF left unused when it is
 * not a regular file. Split-DWARF .dwo files are never opened: the lookups made here stay in
 * the skeleton unit (libdw 0.188 goes to a .dwo only when asked for the split unit's DIEs). */
#include "ms_symbols.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_files.h"
#include "ms_hmap.h"

/* Where the system's separate debug files are (libdwfl's default path, and the only place
 * libdw looks by itself). */
#define DEBUG_ROOT "/usr/lib/debug"

/* What the libdwfl callbacks learn about one module (its userdata; heap-allocated so that it
 * stays put while the module table grows). */
typedef struct modinfo_s {
  ms_symbolizer_t *s;
  const char *path;    /* the module's path (module_t's copy) */
  dev_t dev;           /* the module file as opened: never taken as its own debug file */
  ino_t ino;
  const char *debuglink; /* its .gnu_debuglink name as libdwfl passes it (pointer identity
                          * tells the debug-file call from the dwz alt-file call) */
  int alt_missing;     /* an alt file was asked for and none was accepted: libdw will look on
                        * its own (dwarf_getalt), so its paths are checked before DWARF use */
  int ready;           /* debuglink is known: before that (libdwfl relocating an ET_REL file
                        * inside dwfl_module_getelf) no debug file is looked for */
  int in_alt;          /* inside the alt-file lookup (guards against re-entry) */
} modinfo_t;

/* One module as loaded at one base: a Dwfl of its own, so that the same path mapped at two
 * bases in two snapshots (dlclose, dlopen again) never overlaps inside one Dwfl. */
typedef struct module_s {
  char *path;
  uint64_t base;
  Dwfl *dwfl;        /* NULL when libdwfl could not use the file */
  Dwfl_Module *mod;
  modinfo_t *info;
  int use_dwarf;     /* 0: names from the symbol table only (no DWARF, or DWARF that would
                      * make libdw open a file that is not regular) */
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
  char **warnings;   /* files not used because they are not regular (one line each) */
  size_t nwarnings, capwarnings;
};

static int find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                    char **file_name, Elf **elfp);
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                          Dwarf_Addr base, const char *file_name, const char *debuglink,
                          GElf_Word crc, char **debuginfo_file_name);

/* Not libdwfl's standard callbacks: those open whatever path they build with a plain
 * open(2) (a FIFO there blocks forever) and may query debuginfod servers over the network. */
static const Dwfl_Callbacks callbacks = {
    .find_elf = find_elf,
    .find_debuginfo = find_debuginfo,
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
    free(s->mods[i].info);
    free(s->mods[i].path);
  }
  free(s->mods);
  for (size_t i = 0; i < s->nwarnings; i++)
    free(s->warnings[i]);
  free(s->warnings);
  free(s);
}

size_t ms_symbolizer_cached(const ms_symbolizer_t *s) { return s->cache.count; }
size_t ms_symbolizer_modules(const ms_symbolizer_t *s) { return s->nmods; }
size_t ms_symbolizer_nwarnings(const ms_symbolizer_t *s) { return s->nwarnings; }
const char *ms_symbolizer_warning(const ms_symbolizer_t *s, size_t i) {
  return i < s->nwarnings ? s->warnings[i] : NULL;
}

/* ---- opening the files a trace names ------------------------------------------------------- */

static const char *file_kind(mode_t mode) {
  return S_ISFIFO(mode)  ? "a FIFO"
         : S_ISCHR(mode) ? "a character device"
         : S_ISBLK(mode) ? "a block device"
         : S_ISDIR(mode) ? "a directory"
         : S_ISSOCK(mode) ? "a socket"
                          : "not a regular file";
}

/* Adds one warning line (once: the same file may be met for several modules or bases). Out of
 * memory only loses the warning. */
static void warn(ms_symbolizer_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(ms_symbolizer_t *s, const char *fmt, ...) {
  char line[PATH_MAX + 256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  for (size_t i = 0; i < s->nwarnings; i++)
    if (!strcmp(s->warnings[i], line))
      return;
  if (s->nwarnings >= 100 || ms__grow(&s->warnings, &s->capwarnings, s->nwarnings,
                                      sizeof *s->warnings, 8))
    return;
  char *d = strdup(line);
  if (d)
    s->warnings[s->nwarnings++] = d;
}

/* Opens a file the trace names (a module, a debug file) for reading, only if it is a regular
 * file. stat first, so that a device is never opened at all (opening some has effects: a
 * watchdog arms, a tape rewinds); then ms_open_regular (O_NONBLOCK, so a FIFO swapped in
 * after the stat cannot block, and fstat). Returns the descriptor or -errno; -EINVAL: not a
 * regular file, what it is in *mode (0 when it changed under us). */
static int open_named(const char *path, mode_t *mode) {
  struct stat st;
  *mode = 0;
  if (stat(path, &st) != 0)
    return -errno;
  if (!S_ISREG(st.st_mode)) {
    *mode = st.st_mode;
    return -EINVAL;
  }
  return ms_open_regular(path, 0);
}

/* 1 when path exists and is not a regular file (what libdw would block on or misread). */
static int exists_not_regular(const char *path, mode_t *mode) {
  struct stat st;
  if (stat(path, &st) != 0 || S_ISREG(st.st_mode))
    return 0;
  *mode = st.st_mode;
  return 1;
}

/* The build-id path of the system's debug files: DEBUG_ROOT/.build-id/xx/yyyy.debug (libdwfl's
 * and libdw's layout). "" when the id is too short or too long for it. */
static void build_id_path(const unsigned char *id, ssize_t len, char *out, size_t cap) {
  out[0] = 0;
  if (len < 3 || len > 64 || cap < sizeof DEBUG_ROOT + 16 + 2 * (size_t)len)
    return;
  size_t n = (size_t)snprintf(out, cap, DEBUG_ROOT "/.build-id/%02x/", id[0]);
  for (ssize_t i = 1; i < len; i++)
    n += (size_t)snprintf(out + n, cap - n, "%02x", id[i]);
  snprintf(out + n, cap - n, ".debug");
}

/* The directory part of path ("." when none) into out. */
static void dir_of(const char *path, char *out, size_t cap) {
  const char *slash = strrchr(path, '/');
  if (!slash)
    snprintf(out, cap, ".");
  else if (slash == path)
    snprintf(out, cap, "/");
  else
    snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

static const char *base_of(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* CRC-32 (the IEEE polynomial, reflected: what .gnu_debuglink's checksum is) of a whole
 * file. Written here because no library this project links exports it (libdwfl keeps its
 * own internal). 0 on success. */
static int file_crc32(int fd, uint32_t *out) {
  static uint32_t table[256];
  if (!table[1])
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++)
        c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
  uint32_t crc = 0xffffffffu;
  unsigned char buf[1 << 16];
  off_t off = 0;
  for (;;) {
    ssize_t r = pread(fd, buf, sizeof buf, off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -1;
    if (r == 0)
      break;
    for (ssize_t i = 0; i < r; i++)
      crc = table[(crc ^ buf[i]) & 0xff] ^ (crc >> 8);
    off += r;
  }
  *out = crc ^ 0xffffffffu;
  return 0;
}

/* 1 when the ELF file on fd carries exactly this build id. */
static int build_id_matches(int fd, const void *id, ssize_t len) {
  Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
  if (!elf)
    return 0;
  const void *got = NULL;
  ssize_t n = dwelf_elf_gnu_build_id(elf, &got);
  int ok = n > 0 && n == len && !memcmp(got, id, (size_t)len);
  elf_end(elf);
  return ok;
}

/* find_elf: never called for modules reported with their descriptor (dwfl_report_elf opens
 * the ELF at once); answers "not found" rather than search paths by build id. */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                    char **file_name, Elf **elfp) {
  (void)mod, (void)userdata, (void)modname, (void)base, (void)file_name;
  *elfp = NULL;
  errno = 0;
  return -1;
}

/* One candidate debug (or alt) file: opened if regular, not the module itself, and matching
 * the build id (or, without one, the debuglink CRC). Returns the descriptor with *name set
 * (malloc'd), or -1. A candidate that exists but is not a regular file is warned about. */
static int try_debug_file(modinfo_t *mi, const char *path, const void *id, ssize_t idlen,
                          int check_crc, GElf_Word crc, char **name) {
  mode_t mode;
  int fd = open_named(path, &mode);
  if (fd == -EINVAL) {
    warn(mi->s, "%s: %s, not a regular file: not read as debug info for %s", path,
         file_kind(mode), mi->path);
    return -1;
  }
  if (fd < 0)
    return -1;
  struct stat st;
  int ok = fstat(fd, &st) == 0 && !(st.st_dev == mi->dev && st.st_ino == mi->ino);
  if (ok && idlen > 0)
    ok = build_id_matches(fd, id, idlen);
  else if (ok && check_crc) {
    uint32_t got;
    ok = file_crc32(fd, &got) == 0 && got == crc;
  }
  if (ok)
    ok = (*name = strdup(path)) != NULL;
  if (!ok) {
    close(fd);
    return -1;
  }
  return fd;
}

/* find_debuginfo: libdwfl asks for a module's separate debug file (debuglink is the module's
 * .gnu_debuglink name, or NULL), or, once DWARF is loaded, for its dwz alt file (debuglink is
 * then the .gnu_debugaltlink name). The places are libdwfl's defaults: DEBUG_ROOT by build id,
 * then the name in the module's directory, its .debug/ and DEBUG_ROOT + the directory (alt
 * files: the name itself, the directory's .dwz/, DEBUG_ROOT/.dwz/). Each through
 * try_debug_file. Returns a descriptor (libdwfl owns it) or -1 with errno 0 ("not found"). */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                          Dwarf_Addr base, const char *file_name, const char *debuglink,
                          GElf_Word crc, char **debuginfo_file_name) {
  (void)modname, (void)base;
  modinfo_t *mi = *userdata;
  errno = 0;
  if (!mi || !mi->ready || mi->in_alt || !file_name)
    return -1;
  int alt = debuglink && debuglink != mi->debuglink;
  const void *id = NULL;
  ssize_t idlen = 0;
  if (alt) {
    Dwarf_Addr bias;
    /* The alt file is asked for once the DWARF is loaded, so this returns it without calling
     * back; in_alt stops a loop should a malformed file make it load again. */
    mi->in_alt = 1;
    Dwarf *dw = dwfl_module_getdwarf(mod, &bias);
    mi->in_alt = 0;
    const char *altname;
    idlen = dw ? dwelf_dwarf_gnu_debugaltlink(dw, &altname, &id) : -1;
    errno = 0;
    if (idlen <= 0)
      return -1;
  } else {
    const unsigned char *bits;
    GElf_Addr vaddr;
    idlen = dwfl_module_build_id(mod, &bits, &vaddr);
    id = bits;
  }
  char dir[PATH_MAX], path[PATH_MAX + 512];
  dir_of(file_name, dir, sizeof dir);
  int fd = -1;
  build_id_path(id, idlen, path, sizeof path);
  if (path[0])
    fd = try_debug_file(mi, path, id, idlen, 0, 0, debuginfo_file_name);
  if (alt) {
    const char *cand[4] = {NULL, NULL, NULL, NULL};
    char rel[PATH_MAX + 512], dwz[PATH_MAX + 512], sys[PATH_MAX + 512];
    if (debuglink[0] == '/') {
      cand[0] = debuglink;
    } else {
      snprintf(rel, sizeof rel, "%s/%s", dir, debuglink);
      cand[0] = rel;
    }
    snprintf(dwz, sizeof dwz, "%s/.dwz/%s", dir, base_of(debuglink));
    snprintf(sys, sizeof sys, DEBUG_ROOT "/.dwz/%s", base_of(debuglink));
    cand[1] = dwz;
    cand[2] = sys;
    for (int i = 0; fd < 0 && cand[i]; i++)
      fd = try_debug_file(mi, cand[i], id, idlen, 0, 0, debuginfo_file_name);
    mi->alt_missing = fd < 0;
    errno = 0;
    return fd;
  }
  char local[NAME_MAX + 8];
  const char *link = debuglink;
  if (!link) { /* libdwfl's guess when the module names none: "<basename>.debug" */
    snprintf(local, sizeof local, "%s.debug", base_of(file_name));
    link = local;
  }
  const char *fmt[3] = {"%s/%s", "%s/.debug/%s", DEBUG_ROOT "%s/%s"};
  for (int i = 0; fd < 0 && i < 3; i++) {
    if (i == 2 && dir[0] != '/')
      break;
    snprintf(path, sizeof path, fmt[i], dir, link);
    fd = try_debug_file(mi, path, id, idlen, debuglink != NULL && crc != 0, crc,
                        debuginfo_file_name);
  }
  errno = 0;
  return fd;
}

/* Whether the module's DWARF can be read without libdw opening, by itself, a file that is not
 * regular. When libdwfl found no dwz alt file (find_debuginfo refused or missed it), libdw
 * looks once more on its own the first time a name lives in the alt file (dwarf_getalt: by
 * build id under DEBUG_ROOT, then the name beside the DWARF file), with a plain open(2) and
 * no hook. Those two paths are checked now; one that exists and is not a regular file makes
 * the module's DWARF unused (names then come from the symbol table), with a warning. What
 * remains is a race: a regular file swapped for a FIFO between this check and libdw's open,
 * which only libdw itself could close. */
static int dwarf_usable(ms_symbolizer_t *s, module_t *m) {
  Dwarf_Addr bias;
  Dwarf *dw = dwfl_module_getdwarf(m->mod, &bias); /* runs find_debuginfo as needed */
  if (!dw)
    return 0;
  const char *altname;
  const void *id;
  ssize_t idlen;
  if (!m->info->alt_missing || (idlen = dwelf_dwarf_gnu_debugaltlink(dw, &altname, &id)) <= 0)
    return 1;
  mode_t mode = 0;
  char p[2 * PATH_MAX + 8];
  build_id_path(id, idlen, p, sizeof p);
  int bad = p[0] && exists_not_regular(p, &mode);
  if (!bad) {
    /* libdw's directory of the DWARF file is the one the kernel gives for its descriptor
     * (/proc/self/fd): links resolved. */
    const char *mainfile = NULL, *debugfile = NULL;
    dwfl_module_info(m->mod, NULL, NULL, NULL, NULL, NULL, &mainfile, &debugfile);
    const char *dwfile = debugfile ? debugfile : mainfile ? mainfile : m->path;
    char real[PATH_MAX], dir[PATH_MAX];
    if (!realpath(dwfile, real))
      snprintf(real, sizeof real, "%s", dwfile);
    dir_of(real, dir, sizeof dir);
    if (altname[0] == '/')
      snprintf(p, sizeof p, "%s", altname);
    else
      snprintf(p, sizeof p, "%s/%s", dir, altname);
    bad = exists_not_regular(p, &mode);
  }
  if (bad) {
    warn(s, "%s: %s, not a regular file: the DWARF of %s that names it is not read "
            "(functions from its symbol table, no file and line)",
         p, file_kind(mode), m->path);
    return 0;
  }
  return 1;
}

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
 * is not usable (missing, not a regular file, not ELF, a pseudo path such as [vdso]). */
static module_t *module_for(ms_symbolizer_t *s, const char *path, uint64_t base) {
  for (size_t i = 0; i < s->nmods; i++)
    if (s->mods[i].base == base && !strcmp(s->mods[i].path, path))
      return s->mods[i].mod ? &s->mods[i] : NULL;
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
  mode_t mode;
  int fd = open_named(path, &mode);
  if (fd == -EINVAL) {
    warn(s, "%s: %s, not a regular file: its frames are left unsymbolized", path,
         file_kind(mode));
    return NULL;
  }
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !(m->info = calloc(1, sizeof *m->info)) ||
      !(m->dwfl = dwfl_begin(&callbacks))) {
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  m->info->s = s;
  m->info->path = m->path;
  m->info->dev = st.st_dev;
  m->info->ino = st.st_ino;
  dwfl_report_begin(m->dwfl);
  const char *name = strrchr(path, '/') + 1;
  /* add_p_vaddr false: `base` is where the lowest PT_LOAD segment starts (the mapping of
   * file offset 0), which is what maps.txt shows for a shared object or PIE. The descriptor
   * is the module's from here on (libdwfl closes it in dwfl_end) when the report succeeds. */
  m->mod = dwfl_report_elf(m->dwfl, name, path, fd, (GElf_Addr)base, false);
  dwfl_report_end(m->dwfl, NULL, NULL);
  if (!m->mod) {
    /* Not ELF: the descriptor is still ours, unless libelf let it go while unpacking a
     * compressed image (then the number may be free or reused: close only our file). */
    struct stat now;
    if (fstat(fd, &now) == 0 && now.st_dev == st.st_dev && now.st_ino == st.st_ino)
      close(fd);
    return NULL;
  }
  void **userdata;
  dwfl_module_info(m->mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
  *userdata = m->info;
  Dwarf_Addr bias;
  Elf *elf = dwfl_module_getelf(m->mod, &bias);
  GElf_Word crc;
  m->info->debuglink = elf ? dwelf_elf_gnu_debuglink(elf, &crc) : NULL;
  m->info->ready = 1;
  m->use_dwarf = dwarf_usable(s, m);
  return m;
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
    module_t *m = resolve && off <= pc ? module_for(s, path, pc - off) : NULL;
    if (m) {
      Dwfl_Module *mod = m->mod;
      GElf_Off symoff;
      GElf_Sym sym;
      /* The name the debug info gives, else the ELF symbol table's. */
      const char *fn = NULL, *inl = NULL;
      if (m->use_dwarf)
        dwarf_function(mod, pc, &fn, &inl);
      if (!fn)
        fn = dwfl_module_addrinfo(mod, pc, &symoff, &sym, NULL, NULL, NULL);
      r.function = demangled(s, fn);
      r.inlined = demangled(s, inl);
      Dwfl_Line *line = m->use_dwarf ? dwfl_module_getsrc(mod, pc) : NULL;
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
