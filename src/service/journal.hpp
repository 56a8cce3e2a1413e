// warrend's log when systemd runs it: stderr, which journald keeps, each
// line with the syslog priority journald reads (sd-daemon(3)'s "<3>"
// prefixes, so `journalctl -p warning` works) and without a timestamp of
// its own (journald stamps every line).
#pragma once

namespace warren::service {

// Whether stderr is the journal: JOURNAL_STREAM (set by systemd for a
// service's StandardError=journal, the default) names stderr's device
// and inode. Not when stderr was redirected elsewhere since.
bool stderr_is_journal();

// spdlog's default logger: to stderr, "<6>info text" lines. Call before
// any other thread logs.
void log_to_journal();

}  // namespace warren::service
