"""The one exception type for user-facing errors: caught once in the CLI, shown as one line."""


class PtgmError(Exception):
    """An error the user can fix; the message says what to do."""
