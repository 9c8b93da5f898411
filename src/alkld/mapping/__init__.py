"""Stage 2: term mapping through curated SSSOM tables (and, optionally, resolvers)."""
