/* json_arena.h -- a per-thread arena for cJSON's allocations while one
 * document is parsed, decoded and deleted (see json_arena.c for why), and
 * the accounting of that memory against a request's budget.
 *
 * Every cJSON tree made after up_json_arena_enter() on a thread must be
 * deleted before the matching up_json_arena_leave() on the same thread:
 * leave drops the arena's memory wholesale. Windows nest. */
#ifndef UP_JSON_ARENA_H
#define UP_JSON_ARENA_H

#include <cjson/cJSON.h>

#include "../kernels/op.h"

void up_json_arena_enter(void);
/* The same, and every byte cJSON takes inside the window is charged to ch
 * (may be NULL) before it is allocated: the arena's blocks, each in full.
 * A refused charge makes that allocation fail (cJSON_malloc returns NULL)
 * and leaves the hook's error in err. Only the outermost window's accountant applies. */
void up_json_arena_enter_charged(const up_charge *ch, up_error *err);
void up_json_arena_leave(void);
/* Delete a tree made inside this thread's open window. With the arena on
 * its nodes are the arena's and go at leave, so there is nothing to walk;
 * otherwise cJSON_Delete. */
void up_json_arena_delete(cJSON *root);

#endif
