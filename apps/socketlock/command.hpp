#pragma once
// The command of `socketlock run` and every process it starts: started so
// that it can never run without the lock, and ended, all of it, before the
// lock is let go. docs/socketlock.md ("socketlock run: the command and its
// lock") states the rules; in short:
//   - socketlock is a child subreaper, so every process the command starts
//     stays below it (orphans come back to it rather than to init) and can
//     be found and ended;
//   - the command's first process dies with socketlock (PR_SET_PDEATHSIG);
//   - the command inherits the descriptors that keep the lock alive
//     (Client::lock_descriptors), so if socketlock is SIGKILLed, the lock
//     lasts until the last process holding them is gone, as with flock(1).
#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace warren::socketlock_cli {

// Makes this process a child subreaper (PR_SET_CHILD_SUBREAPER).
void become_subreaper();

// Forks and execs `argv` (searched in $PATH as execvp does) from the calling
// thread, which must live as long as the process: the child is sent SIGKILL
// when that thread ends. The child starts with signal mask `mask` and with
// `inherit` (close-on-exec descriptors of ours) open across exec; they are
// closed here once it has started. Returns the child's pid, or -1 with
// *exec_errno set when it could not be run (the child is then reaped).
pid_t spawn(const std::vector<std::string>& argv, const std::vector<int>& inherit, const sigset_t& mask,
            int* exec_errno);

// Live (not zombie) descendants of this process, from /proc.
std::vector<pid_t> descendants();

// Sends `sig` to every live descendant.
void signal_descendants(int sig);

// SIGKILLs every descendant, looking again (for any forked meanwhile) until
// none is left alive. When it returns, every descendant is dead or a zombie,
// or (stuck in the kernel for 2 s) at least can never run its own code again.
void kill_descendants();

}  // namespace warren::socketlock_cli
