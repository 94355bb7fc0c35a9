/* fuzz_suppressions.c: fuzz target for LSan-style leak suppressions (analysis/ms_suppress.c
 * through ms_analyze.h): the input is a suppressions file, loaded with
 * ms_suppressions_load and matched against fixed frames (C and C++ functions, source files,
 * modules, empty and missing strings) and against frames made of the input's own first
 * lines, then freed.
 *
 * Checked beyond "no crash, no leak": a frame whose function is exactly a pattern of the
 * file (a plain "leak:NAME" line, no wildcard or anchor) is matched, as LSan would. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_util.h"
#include "ms_analyze.h"

/* Input lines that also become frame strings: matching is patterns x frames x string
 * lengths, so a few are enough and keep an input linear. */
#define FZ_INPUT_FRAMES 4

static const ms_frame_t fixed_frames[] = {
    {.address = 0x401136, .function = "leak_from_here", .file = "/src/tests/leaky.c",
     .line = 23, .module = "/work/build/ms_a_leaky", .inlined = ""},
    {.address = 0x7f0000001000, .function = "operator new(unsigned long)", .file = "",
     .module = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", .inlined = ""},
    {.address = 0x7f0000002000, .function = "std::vector<int, std::allocator<int> >::_M_realloc_insert",
     .file = "/usr/include/c++/12/bits/vector.tcc", .line = 445, .module = "libfoo.so.1",
     .inlined = "std::allocator_traits<std::allocator<int> >::allocate"},
    {.address = 0x7f0000003000, .function = "", .file = "", .module = "", .inlined = ""},
    {.address = 0, .function = NULL, .file = NULL, .module = NULL, .inlined = NULL},
    {.address = 0x7f0000004000, .function = "__libc_start_main", .file = "../csu/libc-start.c",
     .module = "/usr/lib/x86_64-linux-gnu/libc.so.6", .inlined = ""},
};
#define NFIXED (sizeof fixed_frames / sizeof fixed_frames[0])

static fz_memfile_t file; /* the input as a file in memory, opened by its path */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (fz_memfile_open(&file, "suppressions.txt")) {
    perror("fuzz_suppressions: memfd");
    exit(2);
  }
  return 0;
}

/* The pattern of a plain "leak:NAME" line (as the loader trims it), or NULL: NAME must have
 * no '*', '^' or '$' and fit in a line the loader reads whole. */
static const char *plain_pattern(char *line) {
  while (*line == ' ' || *line == '\t')
    line++;
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
    line[--n] = 0;
  if (strncmp(line, "leak:", 5) || !line[5] || n >= 4000 || strpbrk(line + 5, "*^$"))
    return NULL;
  return line + 5;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (fz_memfile_set(&file, data, size))
    return 0;
  ms_suppressions_t *s = NULL;
  char err[512];
  int rc = ms_suppressions_load(file.path, &s, err, sizeof err);
  if (rc) {
    FZ_CHECK(s == NULL, "a failed load returned an object");
    return 0;
  }
  FZ_CHECK(s != NULL, "a load that succeeded returned no object");
  volatile int hits = 0;
  for (size_t i = 0; i < NFIXED; i++)
    hits += ms_suppressions_match(s, &fixed_frames[i], 1);
  hits += ms_suppressions_match(s, fixed_frames, NFIXED);
  hits += ms_suppressions_match(s, fixed_frames, 0);

  /* The input's first lines as function, file and module names: patterns meet strings that
   * resemble them. A line that is a plain pattern must match itself as a function. The
   * copy ends at the input's first NUL, as the loader's fgets/strlen reading does. */
  char *text = malloc(size + 1);
  if (!text) {
    ms_suppressions_free(s);
    return 0;
  }
  memcpy(text, data, size);
  text[size] = 0;
  size_t first_nul = strlen(text);
  char *line = text;
  for (int k = 0; k < FZ_INPUT_FRAMES && line && line < text + first_nul; k++) {
    char *nl = strchr(line, '\n');
    if (nl)
      *nl = 0;
    ms_frame_t f = {.address = 1, .function = line, .file = line, .module = line, .inlined = ""};
    hits += ms_suppressions_match(s, &f, 1);
    const char *pat = k == 0 ? plain_pattern(line) : NULL;
    if (pat) {
      /* Only the first line: a later "line" may be the tail of a line longer than the
       * loader's 4 KiB line buffer, which it reads as a line of its own. */
      ms_frame_t g = {.address = 1, .function = pat, .file = "", .module = "", .inlined = ""};
      FZ_CHECK(ms_suppressions_match(s, &g, 1), "'leak:%s' does not match function '%s'", pat,
               pat);
    }
    line = nl ? nl + 1 : NULL;
  }
  free(text);
  ms_suppressions_free(s);
  return hits < 0;
}
