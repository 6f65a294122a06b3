"""What each deploy path is doing while an update runs: the model (paths), the terminal views."""
