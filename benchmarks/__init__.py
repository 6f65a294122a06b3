"""Registration benchmarks: generated topologies run under mocks, measured against the SDK floor."""
