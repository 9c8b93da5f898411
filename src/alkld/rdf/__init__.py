"""Stage 3: RDF — one named graph per case and per publication, vocabulary, mappings."""
