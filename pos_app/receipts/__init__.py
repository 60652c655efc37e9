"""Receipts: one content model, rendered as text for the screen and as ESC/POS for printers."""
