"""The evaluation engine: compiled matchers, conditions, and IAM's decision logic."""
