/* test_json_arena.c -- cJSON trees in the per-thread JSON arena
 * (api/json_arena.c): what a window owns is freed as a whole, what it does
 * not own still goes to free(), windows nest, big documents grow the arena
 * past its first block, and threads keep separate arenas. The arena is on
 * in every build, sanitizers included; under AddressSanitizer a read of a
 * node after its window closed, from the kept first block or from a block
 * given back, and a window still open at exit are each reported (death
 * tests in a child process; the plain build counts those cases fewer). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/codecs.h"
#include "api/json_arena.h"
#include "tests/support/budget.h"
#include "tests/support/child.h"
#include "tests/support/harness.h"

static int sum_numbers(const cJSON *a)
{
    int s = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) s += e->valueint;
    return s;
}

static void arena_parse_and_free_many_documents(void)
{
    /* thousands of windows on one thread: each reuses the kept block */
    for (int i = 0; i < 5000; i++) {
        size_t at;
        const char *doc = "{\"a\":[1,2,3],\"b\":\"text\"}";
        cJSON *root = up_json_parse_document(doc, strlen(doc), &at);
        CHECK(root != NULL);
        if (!root) return;
        CHECK(sum_numbers(cJSON_GetObjectItem(root, "a")) == 6);
        CHECK(!strcmp(cJSON_GetObjectItem(root, "b")->valuestring, "text"));
        up_json_document_free(root);
    }
}

static void arena_document_larger_than_first_block(void)
{
    /* 100k numbers: about 6 MiB of nodes, several arena blocks */
    enum { N = 100000 };
    char *s = malloc((size_t)N * 8 + 16);
    size_t n = 0, at;
    CHECK(s != NULL);
    if (!s) return;
    s[n++] = '[';
    for (int i = 0; i < N; i++) n += (size_t)sprintf(s + n, "%s%d", i ? "," : "", i % 10);
    s[n++] = ']';
    for (int round = 0; round < 3; round++) {
        cJSON *root = up_json_parse_document(s, n, &at);
        CHECK(root != NULL && cJSON_GetArraySize(root) == N);
        if (root) CHECK(sum_numbers(root) == N / 10 * 45);
        up_json_document_free(root);
    }
    free(s);
}

static void arena_failed_parse_closes_its_window(void)
{
    size_t at = 0;
    CHECK(up_json_parse_document("{\"a\":[1,2,", 10, &at) == NULL);
    CHECK(up_json_parse_document("[1] x", 5, &at) == NULL);
    CHECK(at == 4);
    /* a tree made after the failed parses is outside any window: it must
     * come from malloc and survive arena activity on this thread */
    cJSON *outside = cJSON_CreateString("kept");
    cJSON *root = up_json_parse_document("[true]", 6, &at);
    CHECK(root && cJSON_IsTrue(root->child));
    up_json_document_free(root);
    CHECK(outside && !strcmp(outside->valuestring, "kept"));
    cJSON_Delete(outside);
}

static void arena_tree_from_outside_deleted_inside(void)
{
    /* a malloc'd tree deleted inside a window still goes to free() */
    cJSON *outside = cJSON_CreateObject();
    cJSON_AddNumberToObject(outside, "n", 7);
    up_json_arena_enter();
    cJSON *inside = cJSON_CreateArray();
    cJSON_AddItemToArray(inside, cJSON_CreateNumber(1));
    cJSON_Delete(outside);
    cJSON_Delete(inside);
    up_json_arena_leave();
    CHECK(1); /* the checks are ASan's/LSan's and free()'s own */
}

static void arena_windows_nest(void)
{
    size_t at;
    cJSON *a = up_json_parse_document("{\"k\":1}", 7, &at);
    cJSON *b = up_json_parse_document("{\"k\":2}", 7, &at);
    CHECK(a && b);
    if (!a || !b) return;
    up_json_document_free(b);
    /* the outer window is still open: a's nodes are intact */
    CHECK(cJSON_GetObjectItem(a, "k")->valueint == 1);
    up_json_document_free(a);
}

static void *parse_in_thread(void *arg)
{
    int *ok = arg;
    for (int i = 0; i < 2000; i++) {
        char s[64];
        size_t at;
        int n = sprintf(s, "{\"v\":[%d,%d]}", i, i + 1);
        cJSON *root = up_json_parse_document(s, (size_t)n, &at);
        if (!root || sum_numbers(cJSON_GetObjectItem(root, "v")) != 2 * i + 1) *ok = 0;
        up_json_document_free(root);
    }
    return NULL;
}

static void arena_threads_keep_separate_arenas(void)
{
    pthread_t t[4];
    int ok[4] = {1, 1, 1, 1};
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, parse_in_thread, &ok[i]) == 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) CHECK(ok[i]);
}

/* A charged window charges what cJSON takes inside it (the arena's new
 * blocks), refuses past the budget with the hook's error, and charges
 * nothing once closed. */
static void arena_charged_window(void)
{
    th_budget b = {.limit = (int64_t)1 << 30};
    up_charge ch = {.take = th_budget_take, .ctx = &b};
    up_error err;
    char *big = malloc(1 << 20);
    up_error_clear(&err);
    up_json_arena_enter_charged(&ch, &err);
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < 20000; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(i));
    /* all but a reused first block (64 KiB) is new, so charged */
    CHECKF(b.used >= 20000 * (int64_t)sizeof(cJSON) - (64 << 10), "charged %lld", (long long)b.used);
    up_json_arena_delete(a);
    up_json_arena_leave();
    /* refused: the allocation fails, the hook's error is left */
    memset(big, 'a', (1 << 20) - 1);
    big[(1 << 20) - 1] = '\0';
    b = (th_budget){.limit = 100 << 10};
    up_error_clear(&err);
    up_json_arena_enter_charged(&ch, &err);
    cJSON *s = cJSON_CreateString(big);
    CHECK(s == NULL && err.kind == UP_E_OVERLOADED && b.used <= b.limit);
    up_json_arena_delete(s);
    up_json_arena_leave();
    /* outside a window nothing is charged */
    b.used = 0;
    s = cJSON_CreateString(big);
    CHECK(s != NULL && b.used == 0);
    cJSON_Delete(s);
    free(big);
}

#if defined(__SANITIZE_ADDRESS__)
static volatile int sink;

/* A node of a small document lives in the thread's first block, which
 * the leave keeps, poisoned. */
static void read_node_after_leave(void)
{
    size_t at;
    cJSON *root = up_json_parse_document("{\"a\":[1,2,3]}", 13, &at);
    const cJSON *a = root ? root->child : NULL;
    up_json_document_free(root);
    if (a) sink = a->type;
}

/* A node of a document past the first block lives in a block the leave
 * gives back to malloc. */
static void read_node_of_a_freed_block(void)
{
    enum { N = 20000 };
    char *s = malloc((size_t)N * 2 + 2);
    size_t n = 0, at;
    s[n++] = '[';
    for (int i = 0; i < N; i++) {
        if (i) s[n++] = ',';
        s[n++] = '7';
    }
    s[n++] = ']';
    cJSON *root = up_json_parse_document(s, n, &at);
    const cJSON *last = root ? root->child : NULL;
    while (last && last->next) last = last->next;
    up_json_document_free(root);
    if (last) sink = last->type;
}

static void leave_window_open(void)
{
    up_json_arena_enter();
    exit(0); /* runs the destructors, as the daemon's exit does */
}

static void asan_reports_read_of_a_node_after_leave(void)
{
    CHECK(th_child_reports(read_node_after_leave, "use-after-poison"));
}

static void asan_reports_read_of_a_node_in_a_freed_block(void)
{
    CHECK(th_child_reports(read_node_of_a_freed_block, "heap-use-after-free"));
}

static void asan_run_reports_a_window_open_at_exit(void)
{
    CHECK(th_child_reports(leave_window_open, "JSON arena window(s) still open at exit"));
}
#endif

int main(void)
{
    RUN(arena_parse_and_free_many_documents);
    RUN(arena_document_larger_than_first_block);
    RUN(arena_failed_parse_closes_its_window);
    RUN(arena_tree_from_outside_deleted_inside);
    RUN(arena_windows_nest);
    RUN(arena_threads_keep_separate_arenas);
    RUN(arena_charged_window);
#if defined(__SANITIZE_ADDRESS__)
    RUN(asan_reports_read_of_a_node_after_leave);
    RUN(asan_reports_read_of_a_node_in_a_freed_block);
    RUN(asan_run_reports_a_window_open_at_exit);
#endif
    return th_summary();
}
