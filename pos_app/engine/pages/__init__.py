"""The pages the customer's phone opens: one-QR (``/q/{token}``) and store-QR (``/s/{token}``)."""
