"""The stack configuration's rules: value types, whole-config checks, and the messages they give.

`deploypaths.settings` holds the models built from them; `parse.parse_settings` is the entry."""
