"""Guardrails for deploypaths: pure rules (`rules`) and their CrossGuard policies (`pack`)."""
