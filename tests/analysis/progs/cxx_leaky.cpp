// cxx_leaky.cpp: ms_a_cxx_leaky, a C++ program whose leaks come from a member function, a
// function template and operator new[], for the test that C++ frames are reported demangled
// (analysis.preload.cxx_demangled). Prints what it leaked; the names it expects are written
// in the test from the C++ ABI's rules, not read from any output.
#include <cstdio>
#include <cstdlib>

namespace memscope_test {

struct Widget {
  static void *make(int n);
};

__attribute__((noinline)) void *Widget::make(int n) { return std::malloc(static_cast<size_t>(n)); }

template <typename T> __attribute__((noinline)) T *build(int n) { return new T[n]; }

} // namespace memscope_test

static void *volatile keep[2]; // reachable only through a volatile: the calls stay

int main() {
  keep[0] = memscope_test::Widget::make(100);
  keep[1] = memscope_test::build<int>(50);
  std::printf("leak_make=100 leak_build=%zu\n", 50 * sizeof(int));
  return 0;
}
