// ms_b_hostile.cpp: ms_b_hostile, a traced C++ program whose names are markup, for the browser
// test browser.hostile_names (hostile.mjs): a thread that names itself "<svg onload=1>" (14
// bytes: thread names hold 15), a leaked block tagged with MEMSCOPE_TRACK_VAR_AS as the type
// "<img src=x onerror=alert(1)>", and a leak from a function template whose demangled name has
// '<', '>' and '&' in it. The dashboard must show all three as text and run none of them.
// The thread runs alone and is joined, so the run is deterministic. Exit 0, or 1 when the
// thread cannot be started or named.
#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "memscope.h"

namespace {
void *volatile keep[2]; // reachable only through a volatile: the calls and the leaks stay
}

// Demangled (C++ ABI): "std::pair<int, char>* make<std::pair<int, char> >(std::pair<int, char>&)".
template <class T> __attribute__((noinline)) T *make(T &like) { return new T(like); }

static void *worker(void *) {
  // The tracker records only names a thread gives itself.
  if (pthread_setname_np(pthread_self(), "<svg onload=1>") != 0) return reinterpret_cast<void *>(1);
  std::pair<int, char> like(7, 'x');
  keep[0] = make(like);
  char *tagged = static_cast<char *>(std::malloc(4096));
  if (!tagged) return reinterpret_cast<void *>(1);
  std::memset(tagged, 1, 4096);
  MEMSCOPE_TRACK_VAR_AS(tagged, "<img src=x onerror=alert(1)>");
  keep[1] = tagged;
  return nullptr;
}

int main() {
  pthread_t t;
  void *r = nullptr;
  if (pthread_create(&t, nullptr, worker, nullptr) != 0) return 1;
  pthread_join(t, &r);
  if (r) {
    std::fprintf(stderr, "ms_b_hostile: the thread could not be named or allocate\n");
    return 1;
  }
  std::printf("leaked: make<std::pair<int, char> > %zu bytes, tagged 4096 bytes\n",
              sizeof(std::pair<int, char>));
  return 0;
}
