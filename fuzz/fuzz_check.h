// FUZZ_CHECK: the one way a fuzz target reports a broken invariant.
//
// libFuzzer treats any abort as a crash and saves the input that caused it, so a broken
// invariant is reported like a sanitizer finding: a message naming the condition, then abort().
// Used only in fuzz/ (the library code never asserts on input: bad input is an error value).
//
// Thread-safety: stateless.

#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition, what)                                                         \
  do {                                                                                      \
    if (!(condition)) {                                                                     \
      std::fprintf(stderr, "fuzz invariant broken at %s:%d: %s (%s)\n", __FILE__, __LINE__, \
                   (what), #condition);                                                     \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)
