"""The options tokenvaultd accepts (from its --help), for tests that check
the flags a deploy file passes: a renamed flag must break a test, not a
production start."""
import re
import subprocess

import tvtest as t


def accepted_options():
    usage = subprocess.run([t.SERVER, "--help"], capture_output=True, text=True).stdout
    return set(re.findall(r"--[a-z-]+", usage))


OPTIONS = accepted_options()


def check_flags(args, where):
    for arg in args:
        if arg.startswith("--"):
            flag = arg.split("=", 1)[0]
            t.check(flag in OPTIONS, "%s: tokenvaultd accepts %s" % (where, flag))
