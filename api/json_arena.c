/* json_arena.c -- cJSON's nodes for one document come from a per-thread
 * bump arena instead of one malloc each, and are charged to the request.
 *
 * cJSON allocates every value and every key separately. For a small
 * (1,1,4,4) max_unpool request that was about 105 of the ~125 allocations
 * the daemon made, and malloc/free were 28% of its user time. Between
 * up_json_arena_enter() and the matching _leave() on one thread, cJSON's
 * allocations are carved from the thread's arena and its frees of them do
 * nothing; the last _leave() drops them all at once and keeps the first
 * block for the next document. Outside such a window, or for a pointer the
 * arena did not hand out, cJSON uses malloc and free as before, so trees
 * built elsewhere (the /v1/ops document) are unaffected.
 *
 * Accounting: a window opened with up_json_arena_enter_charged() charges
 * every block it mallocs (the block's full size, so what is charged is what
 * is allocated) to the request's hook first; a refusal makes cJSON_malloc
 * return NULL, and the parser reports the hook's error. The first block of
 * a thread is charged when it is made, not when a later window reuses it.
 *
 * Trade-offs: a document's memory is held until its window closes (a
 * parsed tree is deleted right after decoding, so nothing grows); the
 * blocks double, so a huge document costs at most twice its node bytes
 * (and the request parser keeps number arrays out of the tree, json_parse.c).
 * cJSON's realloc fast path is off while custom hooks are installed; only
 * cJSON's printer used it, and nothing hot prints with cJSON.
 *
 * Under AddressSanitizer the arena stays on, so sanitizer runs test what
 * production runs, and its spans are poisoned instead (kernels/poison.h,
 * as bigbuf.c does for large buffers): a block's free space is poisoned
 * when the block is made, each allocation is unpoisoned as it is carved
 * (its alignment padding stays poisoned), and the block a leave keeps is
 * poisoned whole.
 * A read of a node after its window closed is then reported as a
 * use-after-poison (or, for a block given back, a heap use-after-free),
 * and a window left open on the main thread fails the run at exit. */
#include "json_arena.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../kernels/poison.h"

#define FIRST_BLOCK ((size_t)64 << 10) /* a small request fits; kept per thread */
#define ALIGN 16

typedef struct block {
    struct block *prev; /* older block of the same window */
    size_t size;        /* bytes after the header */
    size_t used;
    _Alignas(ALIGN) unsigned char mem[];
} block;

typedef struct arena {
    int depth;        /* open windows on this thread */
    block *first;     /* kept across windows */
    block *cur;       /* newest block; first or a block chained after it */
    up_charge charge; /* the outermost window's accountant (take NULL: none) */
    up_error *err;    /* where its refusal goes */
} arena;

static _Thread_local arena tls;

/* Charge n bytes to the window's accountant; -1 when it refuses. */
static int window_charge(arena *a, size_t n)
{
    up_error scratch;
    if (!a->depth || !a->charge.take) return 0;
    if (n > (size_t)INT64_MAX) return -1;
    up_error_clear(&scratch);
    return a->charge.take(a->charge.ctx, (int64_t)n, "JSON parse tree", a->err ? a->err : &scratch);
}

void up_json_arena_enter_charged(const up_charge *ch, up_error *err)
{
    if (tls.depth++ == 0 && ch && ch->take) {
        tls.charge = *ch;
        tls.err = err;
    }
}

void up_json_arena_enter(void) { up_json_arena_enter_charged(NULL, NULL); }

static void forget_charge(arena *a)
{
    a->charge = (up_charge){0};
    a->err = NULL;
}

static pthread_key_t first_key; /* frees a thread's first block at thread exit */
static int hooks_installed;

static int owns(const arena *a, const void *p)
{
    const unsigned char *q = p;
    for (const block *b = a->cur; b; b = b->prev)
        if (q >= b->mem && q < b->mem + b->size) return 1;
    return 0;
}

static block *block_new(arena *a, size_t size, block *prev)
{
    block *b;
    if (window_charge(a, sizeof(block) + size) < 0) return NULL;
    if (!(b = malloc(sizeof(block) + size))) return NULL;
    b->prev = prev;
    b->size = size;
    b->used = 0;
    UP_POISON(b->mem, size);
    return b;
}

static void *arena_malloc(size_t n)
{
    arena *a = &tls;
    if (!a->depth) return malloc(n);
    if (n > SIZE_MAX / 4) return NULL;
    size_t asked = n;
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (!a->cur || a->cur->size - a->cur->used < n) {
        size_t size = a->cur ? a->cur->size * 2 : FIRST_BLOCK;
        if (size < n) size = n;
        if (size > SIZE_MAX / 2 - sizeof(block)) return NULL;
        block *b = block_new(a, size, a->cur);
        if (!b) return NULL;
        if (!a->first) {
            a->first = b;
            pthread_setspecific(first_key, b);
        }
        a->cur = b;
    }
    void *p = a->cur->mem + a->cur->used;
    a->cur->used += n;
    UP_UNPOISON(p, asked);
    return p;
}

static void arena_free(void *p)
{
    if (p && tls.depth && owns(&tls, p)) return;
    free(p);
}

static void free_first_block(void *b) { free(b); }

/* Installed before main: cJSON's hooks are one global that must not change
 * while another thread allocates through it. */
__attribute__((constructor)) static void arena_install(void)
{
    cJSON_Hooks hooks = {.malloc_fn = arena_malloc, .free_fn = arena_free};
    if (pthread_key_create(&first_key, free_first_block) == 0) {
        cJSON_InitHooks(&hooks);
        hooks_installed = 1;
    }
}

/* The last leave frees every block but a first one of the usual size (an
 * oversized first block, e.g. a 64 MiB data_b64 string, is not kept). */
void up_json_arena_leave(void)
{
    arena *a = &tls;
    if (a->depth <= 0 || --a->depth) return;
    forget_charge(a);
    while (a->cur && !(a->cur == a->first && a->first->size == FIRST_BLOCK)) {
        block *b = a->cur;
        a->cur = b->prev;
        free(b);
    }
    if (a->cur) {
        a->cur->used = 0;
        UP_POISON(a->cur->mem, a->cur->size);
    } else if (a->first) {
        a->first = NULL;
        pthread_setspecific(first_key, NULL);
    }
}

void up_json_arena_delete(cJSON *root)
{
    if (!(hooks_installed && tls.depth)) cJSON_Delete(root);
}
#if UP_ASAN
/* An unbalanced enter (a window never left) on the main thread: its tree
 * would outlive its window in production. Reported like a leak, at exit. */
__attribute__((destructor)) static void report_open_window(void)
{
    if (tls.depth == 0) return;
    fprintf(stderr, "ERROR: json_arena: %d JSON arena window(s) still open at exit\n", tls.depth);
    abort();
}
#endif
