/* json_arena.h -- a per-thread arena for cJSON's allocations while one
 * document is parsed, decoded and deleted (see json_arena.c for why).
 *
 * Every cJSON tree made after up_json_arena_enter() on a thread must be
 * deleted before the matching up_json_arena_leave() on the same thread:
 * leave drops the arena's memory wholesale. Windows nest. */
#ifndef UP_JSON_ARENA_H
#define UP_JSON_ARENA_H

#include <cjson/cJSON.h>

void up_json_arena_enter(void);
void up_json_arena_leave(void);
/* Delete a tree made inside this thread's open window. With the arena on
 * its nodes are the arena's and go at leave, so there is nothing to walk
 * (a JSON-list tensor is a node per number); otherwise cJSON_Delete. */
void up_json_arena_delete(cJSON *root);

#endif
