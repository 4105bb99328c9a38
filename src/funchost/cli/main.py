"""The ``funchost`` command: turns arguments into options and calls the right verb."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

START_EXAMPLES = """examples:
  funchost start                          serve the app in the current folder on port 7071
  funchost start --script-root examples/v2_app -p 8080
  funchost start --enableAuth             enforce function keys, as in production
  funchost start --cors http://localhost:3000 --cors-credentials
  funchost start --debug-port 5678 --wait-for-client    attach VS Code (needs 'funchost[debug]')
"""


def build_parser(start_only: bool = False) -> argparse.ArgumentParser:
    """The whole command line; with ``start_only`` just ``start`` (what ``funchost start`` needs: the
    other verbs' modules are not imported on the way to serving)."""
    parser = argparse.ArgumentParser(
        prog="funchost",
        description="Run Azure Functions Python apps (v1 and v2) without the .NET host.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="<command>")

    start = commands.add_parser(
        "start",
        aliases=["host"],
        help="serve the app's functions (like 'func start')",
        epilog=START_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    start.add_argument("verb", nargs="?", help=argparse.SUPPRESS)  # 'funchost host start'
    start.add_argument(
        "--script-root",
        "--prefix",
        dest="script_root",
        default=".",
        help="the function app folder (default: the current folder)",
    )
    start.add_argument("-p", "--port", type=int, help="port to listen on (default 7071 or Host.LocalHttpPort)")
    start.add_argument("--address", help="address to listen on (default 127.0.0.1)")
    start.add_argument(
        "--enableAuth",
        "--enable-auth",
        dest="enable_auth",
        action="store_true",
        help="enforce authLevel with function keys (off by default, as in Core Tools)",
    )
    start.add_argument(
        "--production",
        action="store_true",
        help="production mode: keys always enforced, CORS from CORS_ALLOWED_ORIGINS",
    )
    start.add_argument("--cors", help="comma-separated allowed origins ('*' for any)")
    start.add_argument(
        "--cors-credentials",
        dest="cors_credentials",
        action="store_true",
        default=None,
        help="allow credentials in cross-origin requests",
    )
    start.add_argument("--functions", nargs="+", help="only load these functions")
    start.add_argument("--verbose", action="store_true", help="show host internals in the log")
    start.add_argument(
        "--workers",
        type=int,
        help="host instances (processes) sharing the port (default FUNCTIONS_WORKER_PROCESS_COUNT, "
        "else 1, or the number of cores with --production)",
    )
    start.add_argument(
        "--no-reload",
        dest="reload",
        action="store_false",
        help="do not reload when app files change (reload is on by default, off with --production)",
    )
    start.add_argument(
        "--drain-timeout",
        dest="drain_timeout",
        type=float,
        default=30.0,
        help="seconds to let in-flight work finish on SIGTERM (default 30)",
    )
    start.add_argument(
        "--debug-port",
        dest="debug_port",
        type=int,
        help="listen for a debugger (debugpy) on this port (runs one instance, no reload)",
    )
    start.add_argument(
        "--wait-for-client",
        dest="wait_for_client",
        action="store_true",
        help="with --debug-port: wait for the debugger before loading the app",
    )
    start.add_argument(
        "-t",
        "--timeout",
        dest="startup_timeout",
        type=float,
        help="seconds to wait for the host to start before giving up (default: no limit)",
    )
    start.add_argument(
        "--language-worker",
        dest="language_worker",
        metavar="ARGS",
        help="accepted for Core Tools compatibility; no effect (functions run in funchost's process)",
    )
    start.add_argument(
        "--no-build",
        dest="no_build",
        action="store_true",
        help="accepted for Core Tools compatibility; no effect (Python apps are not built)",
    )

    if start_only:
        return parser
    from funchost.cli import inspect, kubernetes, pack, project, settings, storage

    project.add_parsers(commands)
    inspect.add_parsers(commands)
    settings.add_parser(commands)
    storage.add_parser(commands)
    pack.add_parser(commands)
    kubernetes.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["_instance"]:  # an instance started by the supervisor
        from funchost.host.run import run_child

        return run_child(arguments[1])
    parser = build_parser(start_only=arguments[:1] in (["start"], ["host"]))
    args, unknown = parser.parse_known_args(arguments)
    if unknown:
        command = f"funchost {args.command}" if args.command else "funchost"
        print(f"{command}: unknown option {unknown[0]!r} (see '{command} --help').", file=sys.stderr)
        return 2
    if args.version:
        from funchost import __version__

        print(f"funchost {__version__}")
        return 0
    command = args.command
    if command in ("start", "host"):
        return _start(args)
    from funchost.cli import inspect, kubernetes, pack, project, settings, storage

    handlers = {
        "init": project.run_init,
        "new": project.run_new,
        "docker": project.run_docker,
        "templates": project.run_templates,
        "list": inspect.run_list,
        "functions": inspect.run_list,
        "check": inspect.run_check,
        "invoke": inspect.run_invoke,
        "settings": settings.run,
        "storage": storage.run,
        "pack": pack.run,
        "kubernetes": kubernetes.run,
    }
    if command in handlers:
        return handlers[command](args)
    parser.print_help(sys.stderr)
    return 2


def _start(args: argparse.Namespace) -> int:
    from funchost.host.options import HostOptions
    from funchost.host.run import run_in_process, start

    if args.verb not in (None, "start"):
        print(f"funchost start: unknown argument {args.verb!r} (see 'funchost start --help').", file=sys.stderr)
        return 2
    root = Path(args.script_root).resolve()
    if root.is_dir() and not (root / "host.json").is_file():  # not an app (yet): Core Tools refuses too
        print(
            f"'{root}' is not a function app (it has no host.json). Run 'funchost init' there to make one, "
            "or point --script-root at the app.",
            file=sys.stderr,
        )
        return 1
    if args.language_worker is not None:
        print("Note: --language-worker has no effect; funchost runs Python functions in its own process.")
    if args.no_build:
        print("Note: --no-build has no effect; funchost does not build Python apps.")
    options = HostOptions(
        script_root=Path(args.script_root),
        port=args.port,
        address=args.address,
        enable_auth=args.enable_auth,
        production=args.production,
        cors=list(args.cors.split(",")) if args.cors else None,
        cors_credentials=args.cors_credentials,
        verbose=args.verbose,
        functions=args.functions,
        workers=args.workers,
        reload=args.reload,
        drain_timeout=args.drain_timeout,
        startup_timeout=args.startup_timeout,
    )
    if args.debug_port is not None:
        if not _listen_for_debugger(args.debug_port, args.wait_for_client):
            return 1
        return run_in_process(options)
    return start(options)


def _listen_for_debugger(port: int, wait: bool) -> bool:
    try:
        import debugpy
    except ImportError:
        print("--debug-port needs debugpy: pip install 'funchost[debug]'", file=sys.stderr)
        return False
    debugpy.listen(("127.0.0.1", port))
    print(f"Debugger listening on 127.0.0.1:{port}" + (" (waiting for it to attach)" if wait else ""))
    if wait:
        debugpy.wait_for_client()
    return True


if __name__ == "__main__":
    raise SystemExit(main())
