from ops_kit import journal

__all__ = ["journal"]
