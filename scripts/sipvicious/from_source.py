#!/usr/bin/env python3
"""Runs a SIPVicious tool (svwar or svcrack, PyPI `sipvicious`) from one
source address, as an attacker with many addresses would.

Usage: from_source.py SOURCE_IP svwar|svcrack [TOOL ARGS...]

The tools' own -b/--bindingip is parsed but never reaches the scanner
(sipvicious 0.3.8), so this sets it where it is used: the scanner's
constructor (which then also uses it in Via and Contact). SV_SOCKET_TIMEOUT
(seconds) shortens how long a scanner waits for stragglers once it has sent
everything (10 s in svcrack), so many short runs can take turns.
"""

import os
import sys

from sipvicious import svcrack, svwar


def main():
    source, tool, *args = sys.argv[1:]
    module, scanner = {"svwar": (svwar, svwar.TakeASip), "svcrack": (svcrack, svcrack.ASipOfRedWine)}[tool]
    init = scanner.__init__
    timeout = os.environ.get("SV_SOCKET_TIMEOUT")

    def bound(self, *a, **kw):
        kw["bindingip"] = source
        init(self, *a, **kw)
        if timeout:
            self.sock.settimeout(float(timeout))

    scanner.__init__ = bound
    sys.argv = [tool, *args]
    module.main()


if __name__ == "__main__":
    main()
