"""Pure logic of the deploy-path program: configuration, plan graph and naming (no resources)."""
