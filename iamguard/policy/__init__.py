"""The policy language: strict JSON loading, validation, and the immutable document model."""
