/* child.c -- death tests in a child process (child.h). */
#include "child.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int th_child_reports(void (*fn)(void), const char *want)
{
    int fds[2], status = 0;
    char buf[8192];
    size_t len = 0;
    ssize_t n;
    pid_t pid;
    if (pipe(fds) < 0) return 0;
    if ((pid = fork()) < 0) {
        close(fds[0]);
        close(fds[1]);
        return 0;
    }
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn();
        _exit(0); /* not reported: the parent sees a clean exit */
    }
    close(fds[1]);
    while (len + 1 < sizeof(buf) && (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = 0;
    close(fds[0]);
    waitpid(pid, &status, 0);
    return !(WIFEXITED(status) && WEXITSTATUS(status) == 0) && strstr(buf, want) != NULL;
}
