#define _GNU_SOURCE
#include "process_spawn.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

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
