/* The reads ctrlens's scan does per process, in C: the floor to compare the Python scan against.
 * For every /proc/PID: open the directory, fstat it (owner = uid), read stat, cmdline and cgroup through the
 * dirfd, readlink ns/pid and ns/mnt. Prints the process count and the elapsed seconds of `rounds` passes.
 *   cc -O2 -o scan_reads scan_reads.c && ./scan_reads [rounds] [proc_dir]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char buf[65536];

static long read_at(int dirfd, const char *name) {
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    long total = 0, n;
    while ((n = read(fd, buf, sizeof buf)) > 0) total += n;
    close(fd);
    return total;
}

static int one_pass(const char *proc_dir) {
    DIR *d = opendir(proc_dir);
    if (!d) { perror(proc_dir); exit(1); }
    int dfd = dirfd(d), count = 0;
    struct dirent *e;
    char link[256];
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        int pfd = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pfd < 0) continue;
        struct stat st;
        fstat(pfd, &st);
        if (read_at(pfd, "stat") >= 0 && read_at(pfd, "cmdline") >= 0 && read_at(pfd, "cgroup") >= 0) {
            readlinkat(pfd, "ns/pid", link, sizeof link);
            readlinkat(pfd, "ns/mnt", link, sizeof link);
            count++;
        }
        close(pfd);
    }
    closedir(d);
    return count;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 10;
    const char *proc_dir = argc > 2 ? argv[2] : "/proc";
    struct timespec a, b;
    int count = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < rounds; i++) count = one_pass(proc_dir);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("%d %.6f\n", count, secs / rounds);
    return 0;
}
