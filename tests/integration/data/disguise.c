/* A process that looks like whatever it is told: argv[0] from DISGUISE_ARGV0 (re-exec), comm from
 * DISGUISE_COMM (prctl), one forked worker, then it waits forever. Used by test_hostile_attribution.py to
 * pose as runtime shims and monitors from inside containers and as a local user. Static: runs in busybox. */
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *argv0 = getenv("DISGUISE_ARGV0");
    if (argv0 != NULL) {
        char *name = strdup(argv0);
        unsetenv("DISGUISE_ARGV0");
        argv[0] = name;
        execv("/proc/self/exe", argv);
        return 127;
    }
    const char *comm = getenv("DISGUISE_COMM");
    if (comm != NULL)
        prctl(PR_SET_NAME, comm, 0, 0, 0);
    if (fork() == 0)
        for (;;) pause();
    for (;;) pause();
}
