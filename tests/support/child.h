/* child.h -- death tests: run a function in a child process and look for
 * a report on its stderr. The sanitizer cases (a read the ASan build must
 * catch) use it: the child dies of the report, the parent goes on. */
#ifndef UP_TEST_CHILD_H
#define UP_TEST_CHILD_H

/* Run fn in a forked child with its stderr in a pipe: 1 when the child
 * did not exit cleanly (fn returning means _exit(0), a clean exit) and its
 * stderr carries want. */
int th_child_reports(void (*fn)(void), const char *want);

#endif
