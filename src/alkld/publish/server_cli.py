"""``alkld serve``: serve a built release over HTTP (SPARQL endpoint, linked data, pages)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

__all__ = ["serve_command"]

log = logging.getLogger(__name__)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port (0 = any free port).")
@click.option("--out", "out", default=Path("output"), show_default=True,
              type=click.Path(path_type=Path), help="Release directory written by `alkld build`.")
@click.option("--queries", default=Path("queries"), show_default=True,
              type=click.Path(path_type=Path), help="Named queries offered on the query page.")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds a query may run before it is stopped.")
@click.option("--row-cap", default=10_000, show_default=True, type=click.IntRange(min=1),
              help="Most rows (or triples) a result returns; a cut is flagged, never silent.")
@click.option("--max-body", default=1_000_000, show_default=True, type=click.IntRange(min=1),
              help="Largest request body accepted, in bytes.")
@click.option("--allow-service", multiple=True, metavar="HOST",
              help="A host SERVICE clauses may call (repeatable); none by default.")
@click.option("--workers", default=max(1, os.cpu_count() or 1), show_default=True,
              type=click.IntRange(min=1),
              help="Server processes, each answering HTTP and running its queries.")
@click.option("--store", "store_url", metavar="URL",
              help="Serve a remote SPARQL 1.1 query endpoint (filled by `alkld publish`) "
                   "instead of the embedded store; credentials from ALKLD_STORE_USER and "
                   "ALKLD_STORE_PASSWORD.")
@click.option("--result-cache", default=65_536, show_default=True, type=click.IntRange(min=0),
              help="Finished query results kept in memory by each worker, at most 128 MB "
                   "(0 = none).")
@click.option("--in-memory", "in_memory", default="auto", show_default=True,
              type=click.Choice(["auto", "yes", "no"]),
              help="Answer from a copy of the store in memory, shared by the workers "
                   "(auto: when the on-disk store is at most 1 GiB).")
def serve_command(host: str, port: int, out: Path, queries: Path, timeout: float, row_cap: int,
                  max_body: int, allow_service: tuple[str, ...], workers: int,
                  store_url: str | None, result_cache: int, in_memory: str) -> None:
    """Serve the release in OUT at http://HOST:PORT/ until interrupted."""
    from alkld.publish.server import ServerSettings

    settings = ServerSettings(out=out, queries=queries, timeout=timeout, row_cap=row_cap,
                              max_body=max_body, allow_service=allow_service, workers=workers,
                              result_cache=result_cache, store_url=store_url,
                              in_memory=in_memory)
    if store_url is None:  # the embedded store: pre-fork workers with killable queries
        from alkld.publish.httpd import serve
        from alkld.publish.server import preloaded

        serve(settings, host=host, port=port, on_ready=lambda url: click.echo(
            f"serving {out}/store{' (in memory)' if preloaded() else ''} at "
            f"{url}/ (SPARQL at /sparql, {workers} workers); Ctrl-C stops", err=True))
        return
    import uvicorn

    from alkld.publish.server import create_app

    app = create_app(settings)
    click.echo(f"serving {store_url} at http://{host}:{port}/ (SPARQL at /sparql); Ctrl-C "
               "stops", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
