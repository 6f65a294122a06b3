"""The stack configuration: its models (`settings`), the values their fields hold (`fields`),
the checks across the config (`references`) and the messages they give (`problems`).

`parse.parse_settings` is the entry: each entry read on its own, then the checks across."""
