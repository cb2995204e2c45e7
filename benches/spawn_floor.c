/* The floor for `scripts/bench seq`: the least a runner can do per step and
 * still do what issue 3 asks of `runbook play` — the body in a memfd read as
 * /dev/fd/N (never argv), stdin from /dev/null, stdout and stderr into pipes
 * that are read, a process group of its own — for the same 200 trivial
 * bodies, one after the other. No journal, no output, no scheduler.
 * scripts/bench compiles it with cc when there is one. Linux only. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void drain(int fd) {
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    close(fd);
}

int main(void) {
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    for (int i = 1; i <= 200; i++) {
        int out[2], err[2];
        if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) return 1;
        int body = memfd_create("step", MFD_CLOEXEC);
        char text[64], path[32];
        int n = snprintf(text, sizeof text, "echo step %d\n", i);
        if (body < 0 || write(body, text, n) != n) return 1;
        snprintf(path, sizeof path, "/dev/fd/%d", body);
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t at;
        posix_spawn_file_actions_init(&fa);
        posix_spawnattr_init(&at);
        posix_spawn_file_actions_adddup2(&fa, null, 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, err[1], 2);
        posix_spawn_file_actions_adddup2(&fa, body, body); /* clears close-on-exec */
        posix_spawnattr_setpgroup(&at, 0);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
        char *argv[] = {"bash", "-euo", "pipefail", path, NULL};
        pid_t pid;
        if (posix_spawnp(&pid, "bash", &fa, &at, argv, environ)) return 1;
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
        close(out[1]);
        close(err[1]);
        close(body);
        int status;
        waitpid(pid, &status, 0);
        drain(out[0]);
        drain(err[0]);
        if (!WIFEXITED(status) || WEXITSTATUS(status)) return 1;
    }
    return 0;
}
