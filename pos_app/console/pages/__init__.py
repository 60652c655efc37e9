"""The console's pages, one per module: each exports its routes."""
