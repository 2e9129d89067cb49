"""The error of conversation tables (its own module: decoding and reading both raise it)."""

__all__ = ['ConversationTableError']


class ConversationTableError(ValueError):
    """A conversation table cannot be read as it is; the message names file and row."""
