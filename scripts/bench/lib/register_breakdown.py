#!/usr/bin/env python3
"""Instructions and allocations per digest registration, by part of the path
(issue 17 item 1), from callgrind runs of scripts/bench/loops/src/bin/register_loop.rs.

Callgrind collects only inside the example's `server` (the switch's side),
once with N and once with 2N registrations; each part's inclusive cost
(callgrind_annotate --inclusive=yes) in the second run minus the first,
divided by N, is its cost per registration, start-up cancelled. Allocations
are the calls to malloc/calloc/realloc in the same runs. Parts nest (the
registrar is inside the core), so rows do not add up: "server" is the whole.

    cargo build --release -p bench-loops --bin register_loop
    scripts/bench/lib/register_breakdown.py [N]        # default 500
"""
import os
import re
import subprocess
import sys
import tempfile

# REGISTER_LOOP: another build of the loop, e.g. the one before a change.
BIN = os.environ.get("REGISTER_LOOP") or os.path.join(os.path.dirname(__file__), "../../../target/release/register_loop")

# (row, regex on the function name callgrind_annotate prints), in the order of a request's path.
PARTS = [
    ("server (everything the switch does, all below)", r"register_loop::server$"),
    ("provisioning check (subscribers' change counter)", r"switch::store::Store::(data_version|subscribers_version)$"),
    ("parse (sipcore::parse, 2 requests)", r"sipcore::message::parse::parse$"),
    ("core: message in (transactions, registrar)", r"switch::core::Core::handle_transport$"),
    ("  transaction layer: message in", r"TransactionLayer::handle_message$"),
    ("  registrar (digest + location + response)", r"Registrar::handle$"),
    ("    digest: challenge (401, nonce)", r"Registrar>::challenge$"),
    ("    digest: verify (nonce check, response)", r"DigestServer::verify$"),
    ("    location update (table, flows)", r"LocationTable>::register$"),
    ("core: timers (transaction timers, table)", r"switch::core::Core::handle_timeout$"),
    ("core: commit reported, 200 sent", r"Core>::handle_committed$"),
    ("store commit (SQLite transaction, 1 upsert)", r"Store>::transaction$"),
    ("  of which the upsert", r"Store>::put_record$"),
    ("response print (encode, 2 responses)", r"<impl sipcore::message::Message>::encode$"),
]

ALLOC = re.compile(r"\*  \S*:(malloc|calloc|realloc) ")


def run(n, out):
    """Inclusive Ir per function, and the allocation calls, of one run."""
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                    "--toggle-collect=*register_loop*server*", BIN, str(n)], check=True, capture_output=True)
    incl = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out],
                          check=True, capture_output=True, text=True).stdout
    costs = {}
    for line in incl.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S.*)$", line)
        if m:
            name = re.sub(r" \[[^]]*\]$", "", m.group(2)).split(":", 1)[-1]
            costs[name] = max(costs.get(name, 0), int(m.group(1).replace(",", "")))
    tree = subprocess.run(["callgrind_annotate", "--tree=caller", "--threshold=100", out],
                          check=True, capture_output=True, text=True).stdout
    allocs, block = 0, []
    for line in tree.splitlines():
        if ALLOC.search(line):
            allocs += sum(int(c.replace(",", "")) for c in re.findall(r"\(([\d,]+)x\)", "\n".join(block)))
        if not line.strip():
            block = []
        else:
            block.append(line)
    return costs, allocs


def part(costs, pattern):
    return sum(v for k, v in costs.items() if re.search(pattern, k))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with tempfile.TemporaryDirectory() as d:
        c1, a1 = run(n, os.path.join(d, "a"))
        c2, a2 = run(2 * n, os.path.join(d, "b"))
    print("| part | instructions / registration |")
    print("| --- | ---: |")
    for row, pattern in PARTS:
        print(f"| {row} | {(part(c2, pattern) - part(c1, pattern)) / n:,.0f} |")
    print(f"\nallocations (malloc, calloc, realloc calls) per registration: {(a2 - a1) / n:.1f}")


if __name__ == "__main__":
    main()
