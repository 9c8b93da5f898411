"""Stage 5: stores — the embedded pyoxigraph store, and remote SPARQL 1.1 stores."""
