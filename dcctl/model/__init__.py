"""Pure value types shared across dcctl."""
