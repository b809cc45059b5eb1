#define _GNU_SOURCE
#include "process_spawn.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// Closes every descriptor from `first` up, except `keep`. Async-signal-safe: close_range(2) where the
// kernel has it (5.9+), else close() over the whole table.
static void close_all_from(int first, int keep) {
#ifdef SYS_close_range
    if (keep > first) syscall(SYS_close_range, (unsigned)first, (unsigned)(keep - 1), 0u);
    if (syscall(SYS_close_range, (unsigned)(keep + 1), ~0u, 0u) == 0) return;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
    for (int fd = first; fd < max; fd++) if (fd != keep) close(fd);
}

// Between fork and exec only async-signal-safe calls are made: the parent may be multi-threaded.
pid_t md_spawn(const char *const argv[], const char *const envp[], const char *cwd, const char *log_path) {
    int status_pipe[2];
    if (pipe2(status_pipe, O_CLOEXEC) != 0) return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(status_pipe[0]);
        close(status_pipe[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        close(status_pipe[0]);
        int err = 0;
        if (setpgid(0, 0) != 0) err = errno;
        if (!err && prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) err = errno;
        // The parent may have died before prctl took effect.
        if (!err && getppid() != parent) _exit(127);
        // Children inherit the gateway's signal mask and dispositions; give them defaults.
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        if (!err && cwd && chdir(cwd) != 0) err = errno;
        if (!err) {
            int null_fd = open("/dev/null", O_RDONLY);
            int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (null_fd < 0 || log_fd < 0) err = errno;
            else if (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0) err = errno;
        }
        // Nothing of the gateway's may leak into a model server: registry files, listening sockets, or a
        // socket another thread bound a moment ago (which the child would then hold for life, and the next
        // instance would find its port taken). Keep only stdio and the exec-status pipe.
        if (!err) close_all_from(3, status_pipe[1]);
        if (!err) {
            execvpe(argv[0], (char *const *)argv, (char *const *)envp);
            err = errno;
        }
        (void)!write(status_pipe[1], &err, sizeof err);
        _exit(127);
    }
    close(status_pipe[1]);
    int child_err = 0;
    ssize_t n;
    do { n = read(status_pipe[0], &child_err, sizeof child_err); } while (n < 0 && errno == EINTR);
    close(status_pipe[0]);
    if (n == sizeof child_err) {
        // exec failed: reap the child and report why.
        int ignored;
        while (waitpid(pid, &ignored, 0) < 0 && errno == EINTR) {}
        errno = child_err;
        return -1;
    }
    return pid;
}
