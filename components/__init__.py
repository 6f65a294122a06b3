"""The deploy-path components: RegionPath, MigrationPath, ServicePath, HealthGate, FeatureFlags."""
