/* closefds.c: a daemon-like program that closes every descriptor above stderr while the
 * tracker is writing, then opens a file of its own and duplicates it onto many descriptor
 * numbers (where the tracker's were). The tracker must never write into that file.
 * Usage: closefds OUTFILE. Writes 1000 known lines to OUTFILE, allocating as it goes. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void churn(int n) {
  for (int i = 0; i < n; i++) {
    void *p = malloc((size_t)(i % 300) + 1);
    free(p);
  }
}

int main(int argc, char **argv) {
  if (argc != 2)
    return 2;
  churn(20000); /* the tracker has files open and chunks written by now */
  for (int fd = 3; fd < 4096; fd++)
    close(fd);
  int out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (out < 0)
    return 3;
  for (int fd = 3; fd < 2048; fd++) /* the program's file under every number the tracker used */
    if (fd != out)
      dup2(out, fd);
  for (int i = 0; i < 1000; i++) {
    churn(100); /* more events: buffers fill and the tracker tries to write */
    char line[64];
    int n = snprintf(line, sizeof line, "line %d\n", i);
    if (write(out, line, (size_t)n) != n)
      return 4;
  }
  churn(50000);
  return 0;
}
