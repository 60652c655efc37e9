"""RSA, AES-GCM and key loading. Shared by the engine's providers and (on its own side) the sandbox."""
