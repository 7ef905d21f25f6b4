#!/usr/bin/env python3
"""Every Apache directive of the module and every worker option is documented where an admin
looks for it. The lists come from the built programs themselves (`apache2 -L` with the module
loaded prints the module's directive table; `webhook-worker --help` prints the worker's option
table), so a directive or option added to a table without its docs fails here.

usage: config_reference.py REPO_DIR MODULE_SO WORKER_BIN APACHE_MODULE_DIR
"""
import os
import re
import subprocess
import sys
import tempfile

# Where each kind of setting must appear (paths relative to the repository).
DIRECTIVE_DOCS = ["README.md", "docs/contract.md", "mod_webhook/README.md", "conf.d/webhook.conf",
                  "packaging/webhook.conf"]
OPTION_DOCS = ["README.md", "worker/README.md", "packaging/worker.conf.sample"]
# Command-line-only flags: not config keys, documented by --help itself.
FLAGS_ONLY = {"config", "help", "version", "sql_dir"}


def module_directives(module_so, apache_modules):
    with tempfile.TemporaryDirectory() as root:
        conf = os.path.join(root, "l.conf")
        with open(conf, "w") as f:
            f.write("ServerRoot %s\nServerName localhost\nErrorLog /dev/null\n"
                    "LoadModule mpm_event_module %s/mod_mpm_event.so\n"
                    "LoadModule webhook_module %s\n" % (root, apache_modules, module_so))
        out = subprocess.run(["/usr/sbin/apache2", "-f", conf, "-L"], capture_output=True, text=True,
                             timeout=30)
    names = re.findall(r"^(\w+) \(mod_webhook\.c\)$", out.stdout, re.M)
    if not names:
        sys.exit("apache2 -L listed no directive of mod_webhook:\n" + out.stdout + out.stderr)
    return names


def worker_options(worker_bin):
    out = subprocess.run([worker_bin, "--help"], capture_output=True, text=True, timeout=30)
    flags = re.findall(r"^\s+--([a-z0-9-]+)", out.stdout, re.M)
    keys = [f.replace("-", "_") for f in flags if f.replace("-", "_") not in FLAGS_ONLY]
    if len(keys) < 10:
        sys.exit("webhook-worker --help listed only %r:\n%s" % (keys, out.stdout + out.stderr))
    return keys


def missing(repo, names, docs):
    gaps = []
    for doc in docs:
        with open(os.path.join(repo, doc), encoding="utf-8") as f:
            text = f.read()
        gaps += ["%s: %s" % (doc, n) for n in names if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(n), text)]
    return gaps


def main():
    repo, module_so, worker_bin, apache_modules = (os.path.abspath(a) for a in sys.argv[1:5])
    directives = module_directives(module_so, apache_modules)
    options = worker_options(worker_bin)
    gaps = missing(repo, directives, DIRECTIVE_DOCS) + missing(repo, options, OPTION_DOCS)
    print("%d directives, %d worker options checked" % (len(directives), len(options)))
    if gaps:
        print("not documented (add them there):\n  " + "\n  ".join(gaps))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
