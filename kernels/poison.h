/* poison.h -- AddressSanitizer's manual poisoning, for allocators of our
 * own (bigbuf.c's cached blocks, api/json_arena.c's bump arena).
 *
 * Such an allocator hands out memory that malloc sees as one live block,
 * so by itself ASan cannot tell a read of a freed piece from a good one.
 * Poisoning what is free and unpoisoning what is handed out lets the
 * sanitizer builds keep the allocator on, as production runs it, and still
 * report a use after free. UP_ASAN is 1 in an ASan build (GCC's or clang's
 * spelling); elsewhere the two macros cost nothing. */
#ifndef UP_POISON_H
#define UP_POISON_H

#if defined(__SANITIZE_ADDRESS__)
#define UP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UP_ASAN 1
#endif
#endif
#ifndef UP_ASAN
#define UP_ASAN 0
#endif

#if UP_ASAN
#include <sanitizer/asan_interface.h>
#define UP_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UP_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define UP_POISON(p, n) ((void)(p), (void)(n))
#define UP_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#endif
