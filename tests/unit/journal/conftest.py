from journal_kit import beijing_machine, journal, journal_path

__all__ = ["beijing_machine", "journal", "journal_path"]
