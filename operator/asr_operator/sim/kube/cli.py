"""`asr-operator sim kube`: run the stand-in until interrupted, with a kubeconfig for it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from .server import KubeStandIn


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="asr-operator sim kube",
        description="Serve a local Kubernetes API stand-in (plain http on loopback, no auth).",
    )
    p.add_argument(
        "--crds",
        action="append",
        default=[],
        metavar="PATH",
        help="CRD YAML file or directory (repeatable)",
    )
    p.add_argument(
        "--kubeconfig", required=True, metavar="PATH", help="where to write the kubeconfig"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to bind (default: any free port)")
    p.add_argument(
        "--namespace",
        action="append",
        default=[],
        dest="namespaces",
        metavar="NS",
        help="namespace to create at start (repeatable)",
    )
    p.add_argument("--bookmark-interval", type=float, default=5.0, metavar="SECONDS")
    p.add_argument("--log-level", default="INFO")
    return p


async def serve(args: argparse.Namespace) -> None:
    standin = KubeStandIn(
        args.crds,
        args.namespaces,
        host=args.host,
        port=args.port,
        bookmark_interval=args.bookmark_interval,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with standin:
        path = standin.write_kubeconfig(args.kubeconfig)
        print(f"Kubernetes API stand-in at {standin.url}; kubeconfig {path}", flush=True)
        await stop.wait()


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(serve(args))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
