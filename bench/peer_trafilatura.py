"""trafilatura's own command line on the benchmark feeds, with the corpus's host names mapped to loopback.

    python -m bench.peer_trafilatura --port PORT --hosts H1,H2 -- [trafilatura arguments]

trafilatura's feed mode rejects IP-literal and ``localhost`` URLs, and its
proxies are SOCKS only, so the corpus is served under ordinary host names
and this process's ``socket.getaddrinfo`` answers them with 127.0.0.1:PORT.
Nothing else is patched.
"""

from __future__ import annotations

import argparse
import socket
import sys


def map_hosts(hosts: set[str], port: int) -> None:
    original = socket.getaddrinfo

    def getaddrinfo(host, service, *args, **kwargs):
        if isinstance(host, str) and host.lower() in hosts:
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))]
        return original(host, service, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hosts", required=True, help="comma-separated host names served by the corpus server")
    parser.add_argument("trafilatura_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    map_hosts({h.lower() for h in args.hosts.split(",")}, args.port)
    from trafilatura.cli import main as trafilatura_main

    sys.argv = ["trafilatura", *[a for a in args.trafilatura_args if a != "--"]]
    trafilatura_main()


if __name__ == "__main__":
    main()
