"""Stage 6: publishing — dumps, VoID/DCAT, and the HTTP server."""
