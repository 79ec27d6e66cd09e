/* shm_guard.c -- a SIGBUS from a shrunk shared-memory region becomes an
 * error answer instead of killing the daemon.
 *
 * A client may ftruncate its object while a request reads or writes it:
 * the pages past the new end are gone, and the next load or store raises
 * SIGBUS. shm_registry.c's fstat at every use catches a shrink that
 * happened before the request; this catches one that races with it. The
 * code that touches a region (decode's input conversion, the kernel
 * chunks, the result copy) runs through up_shm_guarded(), which arms a
 * per-thread sigjmp_buf; the process-wide handler jumps back there when
 * the faulting thread is armed, and otherwise restores the default action
 * so that a SIGBUS anywhere else still kills the process with a core, as
 * it should. Jumping out of a kernel is safe because kernels hold no locks
 * and allocate nothing (their scratch and outputs belong to the plan), and
 * the conversions that read a region write only into plan-owned tensors
 * (kernels/plan.c), so the plan's free releases everything. */
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "shm_registry.h"

/* The initial-exec TLS of the executable: safe to read in a handler. */
static _Thread_local sigjmp_buf *armed;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    if (armed) siglongjmp(*armed, 1);
    /* not ours: the default action when the access is retried */
    signal(sig, SIG_DFL);
}

void up_shm_guard_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}

int up_shm_guarded(void (*fn)(void *), void *arg)
{
    sigjmp_buf jb;
    sigjmp_buf *volatile prev = armed;
    /* savemask 1: the handler runs with SIGBUS blocked unless SA_NODEFER;
     * restoring the mask keeps the next fault deliverable either way */
    if (sigsetjmp(jb, 1)) {
        armed = prev;
        return -1;
    }
    armed = &jb;
    fn(arg);
    armed = prev;
    return 0;
}
