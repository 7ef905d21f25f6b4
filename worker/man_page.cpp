#include "man_page.hpp"

#include "options.hpp"

namespace wh::worker {

namespace {

const char* const kHead = R"(.SH NAME
webhook\-worker \- deliver mod_webhook's notifications; apply its migrations; manage its principals
.SH SYNOPSIS
.B webhook\-worker
[\fB\-\-config\fR \fIFILE\fR] [\fIoptions\fR]
.br
.B webhook\-worker migrate
[\fB\-\-config\fR \fIFILE\fR] [\fB\-\-database\fR \fISPEC\fR] [\fB\-\-sql\-dir\fR \fIDIR\fR] [\fB\-\-secret\-key\-file\fR \fIPATH\fR]
.br
.B webhook\-worker principal add
\fIUSER\fR (\fB\-\-reseller\fR \fIID\fR | \fB\-\-portfolio\fR \fIID\fR | \fB\-\-admin\fR) [\fB\-\-config\fR \fIFILE\fR] [\fB\-\-database\fR \fISPEC\fR]
.br
.B webhook\-worker principal list
[\fIUSER\fR] [\fB\-\-config\fR \fIFILE\fR] [\fB\-\-database\fR \fISPEC\fR]
.br
.B webhook\-worker principal remove
\fIUSER\fR [\fB\-\-reseller\fR \fIID\fR | \fB\-\-portfolio\fR \fIID\fR | \fB\-\-admin\fR] [\fB\-\-config\fR \fIFILE\fR] [\fB\-\-database\fR \fISPEC\fR]
.br
.B webhook\-worker
\fB\-\-help\fR | \fB\-\-version\fR
.SH DESCRIPTION
Without a subcommand, \fBwebhook\-worker\fR runs the delivery loop until SIGTERM or SIGINT: it
claims due notifications from the MariaDB database that mod_webhook writes, sends them signed
to the integrators' endpoints over HTTP(S), records every attempt and schedules retries. Run
any number of workers, on any hosts, against one database.
.PP
\fBmigrate\fR applies the SQL migrations (run it after every upgrade, as a database user that
may create tables and views) and, given the key file, re\-seals credentials an older release
sealed as v1; then it exits.
.PP
\fBprincipal\fR maps a user name to the scopes it may use in the registration API (the
webhook_principals table): \fBadd\fR one row (an existing one is left as it is), \fBlist\fR a
user's rows or every row (USER, KIND, ID, CREATED, tab\-separated; ID \- for admin),
\fBremove\fR one row or, without a scope flag, every row of the user. Apache authenticates the
user (htpasswd, LDAP, ...): this table holds no passwords. IDs are 1 to 64 characters of
[A\-Za\-z0\-9._\-], as the API checks them; user names are 1 to 255 bytes without control
characters or ':'.
.SH OPTIONS
Each option is also a configuration file key: the same name with underscores for dashes.
Flags override the file. \fB\-\-flag value\fR and \fB\-\-flag=value\fR both work.
.TP
\fB\-\-config\fR \fIFILE\fR
key = value file (see \fBCONFIGURATION FILE\fR); flags override it.
)";

const char* const kTail = R"(.TP
\fB\-\-help\fR, \fB\-\-version\fR
Print the usage or the version and exit.
.SH CONFIGURATION FILE
One \fIkey\fR = \fIvalue\fR a line; blank lines and lines starting with # are ignored. The file
may hold keys of any subcommand, so one file serves the daemon, \fBmigrate\fR and
\fBprincipal\fR; it holds the database password: keep it readable by root and the worker's
user only.
.SH LOGGING
Log lines go to standard error as "[level] WH001NN: ...": every warning and error carries a
unique tag and says what to do. When standard error is not the journal, each line starts with
an RFC 3339 UTC time (2026\-12\-04T18:43:20.123Z).
.SH ENVIRONMENT
.TP
.B JOURNAL_STREAM
Set by systemd to the device and inode of the stream it connected to the journal; when it
names standard error, log lines carry no time of their own (journald stamps them).
.SH EXIT STATUS
.TP
.B 0
normal stop (also after SIGTERM or SIGINT); the subcommand did what it was asked.
.TP
.B 1
fatal runtime error: the database is unreachable (WH00102, WH00183), a migration failed,
\fBprincipal remove\fR found nothing to remove (WH00184).
.TP
.B 2
usage or configuration error (WH00100), or an unreadable key file or CA bundle.
.SH FILES
.TP
.I /etc/mod_webhook/worker.conf
the configuration of the packaged service (webhook\-worker.service).
)";

const char* const kSeeAlso = R"(.SH SEE ALSO
.BR apache2 (8),
.BR htpasswd (1),
.BR systemd.exec (5),
.BR journalctl (1);
/usr/share/doc/ of the package: operations.md (the operator's guide) and webhook.conf.sample.
)";

std::string subcommands_of(unsigned scope) {
    std::string out;
    for (auto [bit, name] : {std::pair{kRun, "the daemon"}, {kMigrate, "migrate"}, {kPrincipal, "principal"}})
        if (scope & bit) out += std::string(out.empty() ? "" : ", ") + name;
    return out;
}

std::string option_entry(const OptionSpec& spec) {
    return ".TP\n\\fB" + roff_escape(option_flag(spec.key)) + "\\fR \\fI" + roff_escape(spec.arg) + "\\fR\n" +
           roff_escape(option_help(spec)) + ".\n.br\nKey " + roff_escape(spec.key) + "; taken by " +
           subcommands_of(spec.scope) + ".\n";
}

}  // namespace

std::string roff_escape(const std::string& text) {
    std::string out;
    bool line_start = true;
    for (char c : text) {
        if (line_start && (c == '.' || c == '\'')) out += "\\&";
        if (c == '\\') out += "\\e";
        else if (c == '-') out += "\\-";
        else out += c;
        line_start = c == '\n';
    }
    return out;
}

std::string man_page(const std::string& version, const std::string& sql_dir) {
    std::string page = ".TH WEBHOOK\\-WORKER 8 \"\" \"mod_webhook " + roff_escape(version) +
                       "\" \"System Administration\"\n.nh\n";
    page += kHead;
    for (const auto& spec : option_table()) page += option_entry(spec);
    page += kTail;
    page += ".TP\n.I " + roff_escape(sql_dir) + "\nthe migrations \\fBmigrate\\fR applies by default.\n";
    return page + kSeeAlso;
}

}  // namespace wh::worker
