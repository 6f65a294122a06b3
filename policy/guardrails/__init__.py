"""Guardrails for deploypaths: one module per policy (its pure check and its CrossGuard policy),
the helpers they share (`props`, `crossguard`), and the pack that lists them (`pack`)."""
