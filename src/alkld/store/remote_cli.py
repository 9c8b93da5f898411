"""``alkld publish``: push the release's named graphs into a remote SPARQL 1.1 store.

A thin wrapper over :func:`alkld.store.remote.publish`; this is the only place that reads
the credentials from the environment (``ALKLD_STORE_USER``, ``ALKLD_STORE_PASSWORD``,
``ALKLD_STORE_AUTH``, ``ALKLD_STORE_TOKEN``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import click

from alkld.errors import ConfigurationError
from alkld.store.remote import (
    DIALECTS,
    STATE_FILE,
    AuthScheme,
    BearerToken,
    Credentials,
    count_release_graphs,
    publish,
)

__all__ = ["ENV_AUTH", "ENV_PASSWORD", "ENV_TOKEN", "ENV_USER", "credentials_from_env",
           "publish_command"]

log = logging.getLogger(__name__)

#: Environment variables holding the store's credentials (never a command-line option,
#: so they stay out of shell history and process listings).
ENV_USER = "ALKLD_STORE_USER"
ENV_PASSWORD = "ALKLD_STORE_PASSWORD"  # noqa: S105 - the variable's name, not a password
ENV_AUTH = "ALKLD_STORE_AUTH"
ENV_TOKEN = "ALKLD_STORE_TOKEN"  # noqa: S105 - the variable's name, not a token


def credentials_from_env(environ: Mapping[str, str] | None = None
                         ) -> tuple[Credentials | BearerToken | None, AuthScheme]:
    """The credentials and authentication scheme named by the environment.

    >>> credentials_from_env({"ALKLD_STORE_USER": "dba", "ALKLD_STORE_PASSWORD": "x"})
    (Credentials(user='dba', password='***'), <AuthScheme.AUTO: 'auto'>)
    >>> credentials_from_env({"ALKLD_STORE_TOKEN": "t"})
    (BearerToken('***'), <AuthScheme.AUTO: 'auto'>)
    >>> credentials_from_env({})
    (None, <AuthScheme.AUTO: 'auto'>)
    """
    env = os.environ if environ is None else environ
    user, password, token = env.get(ENV_USER), env.get(ENV_PASSWORD), env.get(ENV_TOKEN)
    scheme_name = env.get(ENV_AUTH, "auto").lower()
    try:
        scheme = AuthScheme(scheme_name)
    except ValueError:
        raise ConfigurationError(f"unknown authentication scheme {scheme_name!r}",
                                 field=ENV_AUTH,
                                 expected="one of " + ", ".join(s.value for s in AuthScheme)
                                 ) from None
    if password is not None and not user:
        raise ConfigurationError(f"{ENV_PASSWORD} is set but {ENV_USER} is not",
                                 field=ENV_USER, expected="both or neither")
    if token:
        if user:
            raise ConfigurationError(f"both {ENV_TOKEN} and {ENV_USER} are set",
                                     field=ENV_TOKEN, expected="a token or a user, not both")
        return BearerToken(token), scheme
    if not user:
        return None, scheme
    return Credentials(user, password or ""), scheme


@click.command("publish")
@click.option("--store", "url", required=True, metavar="URL",
              help="The store: an endpoint URL (…/store, …/data, …/update) or, with a "
                   "server --dialect, the server's base URL.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("output"), show_default=True,
              help="The release written by `alkld build` (its alkld.nq, else its store/); "
                   "the publish state file is kept here too.")
@click.option("--dialect", type=click.Choice(["auto", *DIALECTS]), default="auto",
              show_default=True,
              help="How to talk to the store: gsp / update take the endpoint URL itself; "
                   "the others take a server URL. auto: guess from the URL, else ask.")
@click.option("--batch", type=click.IntRange(min=1), default=8, show_default=True,
              help="Graphs per SPARQL Update request (GSP: one PUT per graph); the state "
                   "is saved after each request.")
@click.option("--parallel", type=click.IntRange(min=1), default=1, show_default=True,
              help="Requests in flight at once, each on its own connection: more for a "
                   "store with cores to spare (the state is still saved per request).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Seconds to wait for each answer.")
@click.option("--retries", type=click.IntRange(min=0), default=3, show_default=True,
              help="Retries of a request that failed transiently (backoff 0.5 s, 1 s, 2 s…).")
@click.option("--force", is_flag=True,
              help="Ignore the state file: republish every graph.")
@click.option("--prune/--no-prune", default=True, show_default=True,
              help="Drop graphs an earlier run put in this store that the release no "
                   "longer has.")
def publish_command(url: str, out: Path, dialect: str, batch: int, parallel: int,
                    timeout: float, retries: int, force: bool, prune: bool) -> None:
    """Publish every named graph of the release into a SPARQL 1.1 store.

    \b
    Each graph is replaced whole (Graph Store Protocol PUT, or SPARQL Update
    DROP + INSERT DATA), so publishing twice leaves the same store. Graphs already
    published with the same content (see OUT/.publish-state.sqlite) are skipped, so a
    rerun after a failure resumes where it stopped.
    Credentials: ALKLD_STORE_USER and ALKLD_STORE_PASSWORD (basic or digest, as the
    store asks; ALKLD_STORE_AUTH=basic|digest to force one), or ALKLD_STORE_TOKEN
    (sent as a bearer token).
    Exit codes: 0 ok, 2 bad configuration or a store error, 130/143 stopped by Ctrl-C /
    SIGTERM (a rerun resumes).
    """
    from tqdm import tqdm

    credentials, scheme = credentials_from_env()
    # the count, rate and ETA of the graphs written or found unchanged (on a terminal)
    with tqdm(total=count_release_graphs(out), desc="publishing", unit="graph",
              disable=None, leave=False, smoothing=0.05) as bar:
        try:
            report = publish(out, url, dialect=dialect, batch=batch, parallel=parallel,
                             credentials=credentials, auth=scheme, timeout=timeout,
                             retries=retries, force=force, prune=prune,
                             progress=lambda graphs: bar.update(len(graphs)))
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM (alkld.cli)
            click.echo(f"publish stopped: the graphs written so far are recorded in "
                       f"{out / STATE_FILE}; the same command resumes", err=True)
            raise
    click.echo(f"published {len(report.published)} graph(s) ({report.triples} triples) to "
               f"{report.store} [{report.dialect}]; {len(report.skipped)} unchanged, "
               f"{len(report.dropped)} dropped", err=True)
