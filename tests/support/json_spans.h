/* json_spans.h -- checks of the request parser's span nodes
 * (api/json_parse.c, UP_JSON_SPANS) against the plain cJSON tree of the
 * same document, shared by tests/unit/test_json_parse.c and
 * tests/fuzz/fuzz_json_parse.c so the test and the fuzzer hold one
 * definition of "a span is its subtree".
 *
 * Depends on cJSON and api/ only (not on the harness): the fuzzer links it
 * without the rest of tests/support. */
#ifndef UP_TEST_JSON_SPANS_H
#define UP_TEST_JSON_SPANS_H

#include <cjson/cJSON.h>

#include "api/codecs.h"

/* Is v a span node (a list kept as its source bytes)? */
int th_is_span(const cJSON *v);
/* The summary of plain array a with no object inside, computed by
 * recursion (json_parse.c builds it incrementally): 0 if a holds an
 * object, so the parser would not make it a span. */
int th_expect_list(const cJSON *a, up_json_list *s);
/* Span a against plain array b: same summary, and its scalars, walked and
 * (for number lists) handed over in runs, are b's leaves bit for bit. */
int th_same_span(const cJSON *a, const cJSON *b);
/* Tree a (parsed with spans) against tree b (plain): every non-empty array
 * of b with no object inside is a span of a that th_same_span accepts; the
 * rest is equal, number bits included. */
int th_same_tree_spans(const cJSON *a, const cJSON *b);
/* Does some object of the tree repeat a key? */
int th_has_repeat(const cJSON *v);

#endif
