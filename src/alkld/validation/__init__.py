"""Stage 4: validation — SHACL per case graph, HermiT on the ontology."""
