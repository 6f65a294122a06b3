"""The deploypaths CrossGuard policy pack: run by the engine with `--policy-pack policy`."""
