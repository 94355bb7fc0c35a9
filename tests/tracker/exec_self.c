/* exec_self.c: allocates, then execs itself ("second"), which allocates differently. The two
 * images have the same pid and must land in two run directories. Each prints its line;
 * the first prefixed "first ". */
#include "expect.h"

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "second") == 0) {
    for (int i = 0; i < 70; i++) {
      void *p = t_malloc(70);
      t_free(p, 70);
    }
    ex_print();
    return 0;
  }
  void *keep[30];
  for (int i = 0; i < 30; i++)
    keep[i] = t_malloc(300);
  for (int i = 0; i < 10; i++)
    t_free(keep[i], 300);
  if (write(1, "first ", 6) != 6) return 99;
  ex_print();
  char *args[] = {argv[0], "second", NULL};
  execv("/proc/self/exe", args);
  return 1;
}
