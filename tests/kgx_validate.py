"""Run the ``kgx`` library's validator over a KGX TSV export, offline.

Run with the interpreter of the isolated kgx virtualenv (``make kgx-venv`` builds
``.venv-kgx``), never imported by the test suite itself (``tests/test_interop.py`` runs it in
a subprocess)::

    .venv-kgx/bin/python tests/kgx_validate.py --schema biolink_model.yaml \
        --prefix-map biolink-model-prefix-map.json --prefix alkld.case=https://... \
        nodes.tsv edges.tsv

Out of the box kgx fetches everything it needs from GitHub: bmt's ``Toolkit()`` loads the
Biolink schema and ``predicate_mapping.yaml`` from raw.githubusercontent.com (at import time
of ``kgx.utils.kgx_utils``), and ``kgx/config.yml`` names three JSON-LD contexts by URL
(Biolink 2.2.5's ``context.jsonld``, and prefixcommons' monarch and OBO contexts). This script
points each at a local file before kgx is imported:

- the Biolink schema: ``--schema`` (the ``biolink-model`` package's ``biolink_model.yaml``);
- ``predicate_mapping.yaml``: not shipped in any package; bmt uses it only for
  ``get_predicate_mapping``, which validation never calls, so it is an empty mapping;
- the ``biolink`` context: ``--prefix-map`` (the same package's prefix map), plus each
  ``--prefix NAME=IRI`` (the exporter's own prefixes), written as a local JSON-LD context;
- the monarch and OBO contexts: the copies shipped inside ``prefixcommons``.

Every socket connection and name lookup is refused and recorded. The script prints one JSON
object on stdout: ``{"kgx": version, "biolink": version, "errors": {...}, "network": [...]}``,
where ``errors`` is kgx's report (level, error type, message, identifiers) and ``network``
lists any attempted connection. It exits 0 when both are empty, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

ATTEMPTS: list[str] = []


def _block_network() -> None:
    """Refuse, and record, every internet connection and name lookup of this process."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded(real: Any) -> Any:
        def connect(self: socket.socket, address: Any) -> Any:
            if self.family in (socket.AF_INET, socket.AF_INET6):
                ATTEMPTS.append(f"connect {address!r}")
                raise OSError(f"network blocked by kgx_validate.py: connect {address!r}")
            return real(self, address)
        return connect

    def getaddrinfo(host: Any, *args: Any, **kw: Any) -> Any:
        ATTEMPTS.append(f"getaddrinfo {host!r}")
        raise socket.gaierror(f"network blocked by kgx_validate.py: lookup {host!r}")

    def create_connection(address: Any, *args: Any, **kw: Any) -> Any:
        ATTEMPTS.append(f"connect {address!r}")
        raise OSError(f"network blocked by kgx_validate.py: connect {address!r}")

    socket.socket.connect = guarded(real_connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded(real_connect_ex)  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = getaddrinfo
    socket.create_connection = create_connection


def _offline_kgx(schema: Path, context: Path) -> None:
    """Point bmt's default schema and kgx's JSON-LD contexts at local files."""
    import bmt.toolkit
    import prefixcommons
    from linkml_runtime.utils.schemaview import SchemaView

    def init(self: Any, schema: Any = str(schema), predicate_map: Any = None) -> None:
        self.view = SchemaView(schema)
        self.pmap = {}  # predicate_mapping.yaml: used only by get_predicate_mapping

    bmt.toolkit.Toolkit.__init__ = init

    import kgx.config

    registry = Path(prefixcommons.__file__).parent / "registry"
    config = kgx.config.get_config()
    config["jsonld-context"] = {
        "biolink": str(context),
        "monarch_context": str(registry / "monarch_context.jsonld"),
        "obo_context": str(registry / "obo_context.jsonld"),
    }


def _plain(errors: Any) -> Any:
    """kgx's nested error report (sets, enums) as JSON."""
    if isinstance(errors, dict):
        return {str(getattr(k, "name", k)): _plain(v) for k, v in errors.items()}
    if isinstance(errors, (set, list, tuple)):
        return sorted(str(x) for x in errors)
    return str(errors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--schema", type=Path, required=True)
    parser.add_argument("--prefix-map", type=Path, required=True)
    parser.add_argument("--prefix", action="append", default=[], metavar="NAME=IRI")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)

    _block_network()
    prefixes = json.loads(args.prefix_map.read_text(encoding="utf-8"))
    prefixes.update(p.split("=", 1) for p in args.prefix)
    with tempfile.TemporaryDirectory() as tmp:
        context = Path(tmp) / "context.jsonld"
        context.write_text(json.dumps({"@context": prefixes}), encoding="utf-8")
        _offline_kgx(args.schema, context)

        import kgx
        from kgx.cli.cli_utils import validate
        from kgx.validator import Validator

        report = Path(tmp) / "report.json"
        errors = validate(inputs=args.files, input_format="tsv", input_compression=None,
                          output=str(report))
        version = Validator.get_toolkit().get_model_version()
    result = {"kgx": kgx.__version__, "biolink": version, "errors": _plain(errors),
              "network": ATTEMPTS}
    json.dump(result, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0 if not errors and not ATTEMPTS else 1


if __name__ == "__main__":
    sys.exit(main())
