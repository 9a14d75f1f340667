/* The testbed's pod sandbox ("pause") process: PID 1 of a pod's sandbox, it holds the pod's namespaces
 * open, reaps whatever zombie is reparented to it and exits on SIGINT or SIGTERM. Built with
 * `gcc -static` (testbed/images.py) and imported under the CRI config's sandbox_image, so nothing is
 * pulled. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig) { _exit(sig == SIGTERM || sig == SIGINT ? 0 : 1); }

static void reap(int sig) {
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(void) {
    struct sigaction sa = {0};
    sa.sa_handler = quit;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = reap;
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    for (;;)
        pause();
}
