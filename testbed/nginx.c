/*
 * A stand-in for nginx, built static so it runs in the busybox image and on the host alike.
 *
 * Only what the testbed needs: a master that listens on -p PORT (default 80) and forks two workers that
 * accept and answer a fixed page, so `ps -C nginx` shows three processes called `nginx` like the article's.
 * It sets no process titles. SIGTERM/SIGINT/SIGQUIT on the master stop the workers and exit (a handler is
 * needed because a container's PID 1 ignores signals it does not handle); workers die with the master.
 *
 * Build: gcc -static -O2 -o nginx nginx.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORKERS 2

static const char PAGE[] =
    "<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head>\n"
    "<body><h1>Welcome to nginx!</h1><p>ctrlens testbed stand-in.</p></body></html>\n";

static volatile sig_atomic_t stopping;
static pid_t workers[WORKERS];

static void on_stop(int sig) {
    (void)sig;
    stopping = 1;
}

static void serve(int lfd, pid_t master) {
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigaction(SIGTERM, &dfl, NULL);
    sigaction(SIGINT, &dfl, NULL);
    sigaction(SIGQUIT, &dfl, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master) _exit(0); /* the master died before PDEATHSIG was armed */

    char header[256];
    int hlen = snprintf(header, sizeof header,
                        "HTTP/1.0 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\n"
                        "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                        sizeof PAGE - 1);
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            perror("nginx: accept");
            _exit(1);
        }
        char req[4096];
        (void)!read(c, req, sizeof req); /* best effort: the answer does not depend on the request */
        (void)!write(c, header, (size_t)hlen);
        (void)!write(c, PAGE, sizeof PAGE - 1);
        close(c);
    }
}

static pid_t spawn(int lfd, pid_t master) {
    pid_t pid = fork();
    if (pid == 0) serve(lfd, master);
    if (pid < 0) perror("nginx: fork");
    return pid;
}

int main(int argc, char **argv) {
    int port = 80, opt;
    while ((opt = getopt(argc, argv, "p:")) != -1) {
        if (opt == 'p') {
            port = atoi(optarg);
        } else {
            fprintf(stderr, "usage: %s [-p PORT]\n", argv[0]);
            return 2;
        }
    }
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "nginx: bad port %d\n", port);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 128) < 0) {
        fprintf(stderr, "nginx: cannot listen on port %d: %s\n", port, strerror(errno));
        return 1;
    }

    struct sigaction stop = {.sa_handler = on_stop}; /* no SA_RESTART: wait() must return */
    sigaction(SIGTERM, &stop, NULL);
    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGQUIT, &stop, NULL);

    pid_t master = getpid();
    for (int i = 0; i < WORKERS; i++) workers[i] = spawn(lfd, master);
    fprintf(stderr, "nginx: master %d listening on port %d with %d workers\n", (int)master, port, WORKERS);

    while (!stopping) {
        pid_t dead = wait(NULL);
        if (dead < 0) {
            if (errno == EINTR) continue;
            if (errno == ECHILD) pause(); /* every worker failed to fork: stay up as the master */
            continue;
        }
        for (int i = 0; i < WORKERS; i++) /* respawn a worker that died, as nginx does */
            if (workers[i] == dead && !stopping) workers[i] = spawn(lfd, master);
    }
    for (int i = 0; i < WORKERS; i++)
        if (workers[i] > 0) kill(workers[i], SIGTERM);
    while (wait(NULL) > 0 || errno == EINTR) {
    }
    return 0;
}
