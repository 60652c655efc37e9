from journal_kit import journal, journal_path

__all__ = ["journal", "journal_path"]
