#ifndef MODELDECK_PROCESS_SPAWN_H
#define MODELDECK_PROCESS_SPAWN_H
#include <sys/types.h>

/// Starts `argv[0]` (looked up in PATH) with `envp`, in `cwd`, its stdout and stderr appended to
/// `log_path`, stdin from /dev/null, in a new process group, and with SIGKILL delivered to it if the
/// calling *thread* dies (PR_SET_PDEATHSIG). Call it from a thread that lives as long as the process.
/// Returns the child's pid, or -1 with errno set (errno from exec failures is reported through a pipe).
pid_t md_spawn(const char *const argv[], const char *const envp[], const char *cwd, const char *log_path);

#endif
