/* bare_socket.c -- the floor under every large HTTP request: the same
 * bytes moved over loopback TCP by a plain C program, no HTTP, no parsing.
 *
 * A server thread accepts one connection; per repetition it reads IN bytes
 * and answers with OUT bytes. The client (main) sends IN bytes, reads OUT
 * bytes, and times the round trip, first byte sent to last byte read, as
 * http_big.py times a request. Buffers are touched before the clock
 * starts. Prints one line for report.py:
 *
 *     http throughput big_bare_socket <in> <out> <median wall ms> <MB/s>
 *
 * Usage: bare_socket IN_BYTES OUT_BYTES REPS */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static size_t in_bytes, out_bytes;
static int reps;

static int xfer(int fd, char *buf, size_t n, int sending)
{
    while (n) {
        ssize_t k = sending ? send(fd, buf, n, MSG_NOSIGNAL) : recv(fd, buf, n, 0);
        if (k <= 0) return -1;
        buf += k;
        n -= (size_t)k;
    }
    return 0;
}

static void *server(void *arg)
{
    int lfd = *(int *)arg, fd = accept(lfd, NULL, NULL);
    char *in = malloc(in_bytes), *out = malloc(out_bytes);
    if (fd < 0 || !in || !out) exit(1);
    memset(in, 0, in_bytes);
    memset(out, 7, out_bytes);
    for (int r = 0; r < reps; r++)
        if (xfer(fd, in, in_bytes, 0) < 0 || xfer(fd, out, out_bytes, 1) < 0) exit(1);
    close(fd);
    free(in);
    free(out);
    return NULL;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    pthread_t th;
    int lfd, fd, one = 1;
    if (argc != 4) {
        fprintf(stderr, "usage: bare_socket IN_BYTES OUT_BYTES REPS\n");
        return 2;
    }
    in_bytes = strtoull(argv[1], NULL, 10);
    out_bytes = strtoull(argv[2], NULL, 10);
    reps = atoi(argv[3]);
    if (reps < 1 || !in_bytes || !out_bytes) return 2;
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
        return 1;
    pthread_create(&th, NULL, server, &lfd);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) return 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char *in = malloc(in_bytes), *out = malloc(out_bytes);
    double *wall = calloc((size_t)reps, sizeof(double));
    if (!in || !out || !wall) return 1;
    memset(in, 3, in_bytes);
    memset(out, 0, out_bytes);
    for (int r = 0; r < reps; r++) {
        double t0 = now_ms();
        if (xfer(fd, in, in_bytes, 1) < 0 || xfer(fd, out, out_bytes, 0) < 0) return 1;
        wall[r] = now_ms() - t0;
    }
    pthread_join(th, NULL);
    qsort(wall, (size_t)reps, sizeof(double), cmp);
    double med = reps % 2 ? wall[reps / 2] : (wall[reps / 2 - 1] + wall[reps / 2]) / 2;
    printf("http\tthroughput\tbig_bare_socket\t%zu\t%zu\t%.3f\t%.1f\n", in_bytes, out_bytes, med,
           (double)(in_bytes + out_bytes) / med / 1e3);
    close(fd);
    close(lfd);
    free(in);
    free(out);
    free(wall);
    return 0;
}
