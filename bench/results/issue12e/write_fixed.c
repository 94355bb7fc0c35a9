/* write_fixed.c DIR: what a stage write costs apart from its bytes (issue 12, fifth pass).
 * Writes 40 MiB to a new file in DIR in writes of 16, 64 and 256 KiB, each after an fstat and
 * a getrlimit(RLIMIT_FSIZE), as the tracker's file_write does (tracker/core.c); 15 rounds, the
 * three sizes interleaved with the first one rotated; CPU time of this process (user + sys).
 * The fixed cost a write is the slope between two sizes: (t_small - t_large) / (writes_small -
 * writes_large). Build: gcc -O2 -o write_fixed write_fixed.c */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROUNDS 15
#define TOTAL (40u << 20)

static double cpu_s(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: write_fixed DIR\n");
    return 2;
  }
  static char buf[1 << 18];
  memset(buf, 'x', sizeof buf);
  const size_t sizes[3] = {16384, 65536, 262144};
  double t[3][ROUNDS];
  for (int round = 0; round < ROUNDS; round++) {
    for (int j = 0; j < 3; j++) {
      int k = (j + round) % 3;
      char path[4096];
      snprintf(path, sizeof path, "%s/write_fixed.%d", argv[1], k);
      int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd < 0) {
        perror(path);
        return 1;
      }
      double c0 = cpu_s();
      for (size_t o = 0; o < TOTAL; o += sizes[k]) {
        struct stat st;
        struct rlimit rl;
        if (fstat(fd, &st) < 0 || getrlimit(RLIMIT_FSIZE, &rl) < 0 ||
            write(fd, buf, sizes[k]) != (ssize_t)sizes[k]) {
          perror(path);
          return 1;
        }
      }
      t[k][round] = cpu_s() - c0;
      close(fd);
      unlink(path);
    }
  }
  for (int k = 0; k < 3; k++) {
    double sum = 0, min = 1e9;
    for (int r = 0; r < ROUNDS; r++) {
      sum += t[k][r];
      min = t[k][r] < min ? t[k][r] : min;
    }
    printf("%7zu B writes: mean %.2f ms  min %.2f ms  per write %.1f us (mean)  ns/B %.3f\n",
           sizes[k], sum / ROUNDS * 1e3, min * 1e3, sum / ROUNDS / (TOTAL / sizes[k]) * 1e6,
           sum / ROUNDS / TOTAL * 1e9);
  }
  return 0;
}
